package shaper

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests measure real time, so they assert only what the shaper
// guarantees by construction (a round trip never costs less than the RTT,
// the link never carries more than its rate) plus lower bounds on
// throughput loose enough that only a broken model (a round trip per
// write, a link that does not share) can miss them. Precise figures are
// the benchmark's.

// echoServer answers every byte it reads with the same byte.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// sinkServer reads everything and answers with the count once the client
// half-closes.
func sinkServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				c.Write([]byte(strings.Repeat("x", int(n%7)+1)))
			}()
		}
	}()
	return ln.Addr().String()
}

func start(t *testing.T, target string, l Link) *Proxy {
	t.Helper()
	p, err := New(target, l)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Every round trip on one connection costs the RTT: the delay is per
// segment, not once per connection.
func TestRoundTripsCostRTT(t *testing.T) {
	const rtt = 80 * time.Millisecond
	p := start(t, echoServer(t), Link{RTT: rtt})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := []byte{0}
	const trips = 4
	startAt := time.Now()
	for i := range trips {
		b[0] = byte(i)
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, b); err != nil {
			t.Fatal(err)
		}
		if b[0] != byte(i) {
			t.Fatalf("echo %d came back as %d", i, b[0])
		}
	}
	if el := time.Since(startAt); el < (trips+1)*rtt {
		t.Fatalf("%d one-byte round trips took %v, less than a handshake and %d × RTT %v", trips, el, trips, rtt)
	}
	if up, down := p.Bytes(); up != trips || down != trips {
		t.Fatalf("Bytes() = %d up, %d down, want %d each", up, down, trips)
	}
}

// A bulk transfer never beats the rate and, with a window above the
// bandwidth-delay product, is not held to a round trip per write either.
func TestBulkTransferRunsAtRate(t *testing.T) {
	const (
		rate = 1 << 20 // 1 MiB/s
		rtt  = 200 * time.Millisecond
		size = 768 << 10
	)
	p := start(t, sinkServer(t), Link{RTT: rtt, Rate: rate})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	startAt := time.Now()
	if _, err := io.CopyN(c, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadAll(c); err != nil {
		t.Fatal(err)
	}
	el := time.Since(startAt)
	mbps := float64(size) / el.Seconds()
	t.Logf("%d KiB in %v: %.0f KiB/s at a rate of %d KiB/s, RTT %v", size>>10, el, mbps/1024, rate>>10, rtt)
	if mbps > rate*1.1 {
		t.Fatalf("throughput %.0f B/s exceeds the rate %d B/s", mbps, rate)
	}
	// Waiting a round trip per 32 KiB read would take 24 × 200 ms = 4.8 s;
	// at the rate it is 0.75 s + 1 RTT.
	if el > 3*time.Second {
		t.Fatalf("took %v: the link does not keep a window in flight", el)
	}
	if up, _ := p.Bytes(); up != size {
		t.Fatalf("Bytes() up = %d, want %d", up, size)
	}
}

// Parallel connections share the rate: together they get no more.
func TestConnectionsShareTheRate(t *testing.T) {
	const (
		rate  = 1 << 20
		size  = 256 << 10
		conns = 3
	)
	p := start(t, sinkServer(t), Link{RTT: 20 * time.Millisecond, Rate: rate})
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	startAt := time.Now()
	for range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := io.CopyN(c, rand.Reader, size); err != nil {
				errs <- err
				return
			}
			c.(*net.TCPConn).CloseWrite()
			_, err = io.ReadAll(c)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(startAt)
	if got := float64(conns*size) / el.Seconds(); got > rate*1.1 {
		t.Fatalf("%d connections together moved %.0f B/s over a link of %d B/s", conns, got, rate)
	}
}

// A small window holds one stream to Window/RTT, as TCP's does.
func TestWindowBoundsOneStream(t *testing.T) {
	const (
		rtt    = 100 * time.Millisecond
		win    = 64 << 10
		size   = 256 << 10
		minDur = size / win * rtt // 4 windows, a round trip each
	)
	p := start(t, sinkServer(t), Link{RTT: rtt, Window: win})
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	startAt := time.Now()
	if _, err := io.CopyN(c, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	io.ReadAll(c)
	if el := time.Since(startAt); el < minDur {
		t.Fatalf("%d KiB through a %d KiB window at RTT %v took %v, want ≥ %v", size>>10, win>>10, rtt, el, minDur)
	}
}

// HTTPS through the proxy: it is a byte pipe, the handshake and the
// request pay their round trips, and the answer arrives intact.
func TestHTTPSThroughProxy(t *testing.T) {
	body := bytes.Repeat([]byte("scandrop"), 8<<10)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(body)
	}))
	defer srv.Close()
	const rtt = 60 * time.Millisecond
	p := start(t, srv.Listener.Addr().String(), Link{RTT: rtt, Rate: 4 << 20})
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	startAt := time.Now()
	resp, err := hc.Post("https://"+p.Addr()+"/x", "application/octet-stream", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("answer: %d bytes, err %v; want %d bytes", len(got), err, len(body))
	}
	// The TCP handshake, TLS 1.3's and the request: a round trip each.
	if el := time.Since(startAt); el < 3*rtt {
		t.Fatalf("a first HTTPS request took %v, less than 3 RTT (%v)", el, 3*rtt)
	}
	// The next request on the same connection costs one round trip.
	startAt = time.Now()
	resp, err = hc.Get("https://" + p.Addr() + "/y")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if el := time.Since(startAt); el < rtt {
		t.Fatalf("a request on an open connection took %v, less than the RTT %v", el, rtt)
	}
}

// Proxies made from one Shared link share its rate: two hosts behind one
// uplink get no more than it carries.
func TestSharedLinkSharesTheRate(t *testing.T) {
	const (
		rate = 1 << 20
		size = 384 << 10
	)
	link := NewShared(Link{RTT: 20 * time.Millisecond, Rate: rate})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	startAt := time.Now()
	for range 2 {
		p, err := link.Proxy(sinkServer(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		wg.Go(func() {
			c, err := net.Dial("tcp", p.Addr())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := io.CopyN(c, rand.Reader, size); err != nil {
				errs <- err
				return
			}
			c.(*net.TCPConn).CloseWrite()
			_, err = io.ReadAll(c)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := float64(2*size) / time.Since(startAt).Seconds(); got > rate*1.1 {
		t.Fatalf("two proxies of one link moved %.0f B/s together over a link of %d B/s", got, rate)
	}
}
