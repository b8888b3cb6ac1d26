// Package stall bounds how long a vendor connection may move nothing, for
// every vendor package alike.
package stall

import (
	"context"
	"net"
	"net/http"
	"time"
)

// DefaultTimeout bounds how long a connection may move nothing.
const DefaultTimeout = time.Minute

// Guard returns hc with connections that fail any read or write that moves
// nothing for d. A request to a vendor may rightly take many minutes (a
// part on a slow link, a PLY download), so no overall bound fits; without
// this, a peer that keeps the connection open and stops answering — a hung
// proxy, a NAT entry that died, a store that stopped reading — hangs the
// job for ever. The guard sits under the transport, so connection pooling
// is unchanged; a transport other than *http.Transport is left as it is,
// and so is everything when d <= 0.
func Guard(hc *http.Client, d time.Duration) *http.Client {
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok || d <= 0 {
		return hc
	}
	tr := t.Clone()
	dial := tr.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: conn, idle: d}, nil
	}
	c := *hc
	c.Transport = tr
	return &c
}

// idleConn is a connection whose reads and writes fail (with a timeout
// error) once no byte has moved for idle. A write also pushes back the
// deadline of a read already waiting, which is how an idle keep-alive
// connection waits for the answer to a new request.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}
