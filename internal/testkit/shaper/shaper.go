// Package shaper is a TCP proxy on loopback that makes a connection behave
// like one over a wide-area link: it adds latency and limits bandwidth in
// both directions, for the benchmark and for tests of how scandrop copes
// with round trips and a slow uplink.
//
// It models a link, not a connection:
//
//   - Rate is the bandwidth of each direction, shared by every connection
//     through the proxy (a token bucket: the bytes of all connections queue
//     for the same wire), so N parallel streams share it and no stream
//     exceeds it.
//   - RTT is added per segment, half in each direction (a delay line): every
//     byte reaches the other side RTT/2 after it left the wire, so a
//     request and its answer cost one RTT, and a stream keeps a window's
//     worth of bytes in flight, as TCP does, instead of waiting a round
//     trip per write.
//   - Window bounds the bytes of one connection and direction that have
//     been read but not yet acknowledged (an acknowledgement comes back
//     RTT/2 after delivery): one stream reaches at most Window/RTT, as with
//     a TCP receive window. The default, 4 MiB, is Linux's default maximum
//     send buffer, more than the bandwidth-delay product of the links the
//     benchmark uses, so one stream is bounded by Rate there.
//
// A connection costs a round trip before the client's first byte crosses
// (TCP's handshake; the kernel completes the connect at once, so the
// proxy holds the bytes instead).
//
// Not modelled: loss, reordering, TCP slow start and congestion control
// (a new connection runs at full rate at once), and the sockets' own
// buffers on loopback. Kernel shaping (tc netem in a network namespace)
// models those but needs root and iproute2; this proxy runs anywhere and
// is a byte pipe, so it carries HTTP and HTTPS alike.
package shaper

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Link describes the shaped link.
type Link struct {
	// RTT is the round-trip time added: RTT/2 each way.
	RTT time.Duration
	// Rate is the bandwidth of each direction in bytes per second, shared
	// by all connections. 0 is unlimited.
	Rate int64
	// Window is how many bytes one connection may have in flight in one
	// direction. 0 means DefaultWindow.
	Window int64
}

// DefaultWindow is the in-flight limit per connection and direction when
// Link.Window is 0.
const DefaultWindow = 4 << 20

// MbitPerSec converts a link speed in Mbit/s to Link.Rate.
func MbitPerSec(m float64) int64 { return int64(m * 1e6 / 8) }

// chunk is the most read from a socket at once: a few TCP segments, small
// enough that connections sharing the link interleave finely.
const chunk = 32 << 10

// blocked is how long a read (or the wait for the window) must have taken
// for the stream to count as having paused: its next bytes start on the
// wire no earlier than now. A stream that did not pause continues from
// where its last bytes left the wire, even if the proxy woke late (a busy
// machine), so that lateness costs no throughput and idleness earns no
// burst.
const blocked = 10 * time.Millisecond

// catchUp bounds how far behind the clock a stream that did not pause
// may continue from.
const catchUp = 50 * time.Millisecond

// Proxy forwards every connection it accepts to its target through the
// shaped link. Its methods are safe for concurrent use.
type Proxy struct {
	link     Link
	target   string
	ln       net.Listener
	up, down *bucket

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	sentUp, sentDown atomic.Int64
}

// Shared is one link in front of several hosts, as a site's uplink is:
// the proxies it makes share its rate, each direction.
type Shared struct {
	link     Link
	up, down *bucket
}

// NewShared returns a link whose proxies share the rate.
func NewShared(link Link) *Shared {
	if link.Window <= 0 {
		link.Window = DefaultWindow
	}
	link.Window = max(link.Window, chunk)
	return &Shared{link: link, up: &bucket{rate: link.Rate}, down: &bucket{rate: link.Rate}}
}

// New listens on 127.0.0.1 and forwards to target (host:port) through a
// link of its own. Close it when done.
func New(target string, link Link) (*Proxy, error) { return NewShared(link).Proxy(target) }

// Proxy listens on 127.0.0.1 and forwards to target (host:port) through
// the shared link. Close it when done.
func (s *Shared) Proxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{link: s.link, target: target, ln: ln, up: s.up, down: s.down, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Link is the link the proxy models.
func (p *Proxy) Link() Link { return p.link }

// Bytes is how many bytes went from clients to the target (up) and back
// (down) so far.
func (p *Proxy) Bytes() (up, down int64) { return p.sentUp.Load(), p.sentDown.Load() }

// Close stops accepting, cuts every connection and waits for the proxy's
// goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.untrack(client)
	// The kernel has completed the client's connect at once; TCP's
	// handshake costs a round trip before the first byte, so the client's
	// bytes wait that long before they go on the wire.
	handshake := time.Now().Add(p.link.RTT)
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	var (
		once sync.Once
		cut  = func() { once.Do(func() { client.Close(); server.Close() }) }
		wg   sync.WaitGroup
	)
	wg.Go(func() { p.pipe(client, server, p.up, &p.sentUp, handshake, cut) })
	wg.Go(func() { p.pipe(server, client, p.down, &p.sentDown, time.Time{}, cut) })
	wg.Wait()
}

// segment is bytes on their way, due at the far end at due. A segment
// with end set closes the direction after the bytes before it (err nil: a
// clean end of stream).
type segment struct {
	b   []byte
	due time.Time
	end bool
	err error
}

// pipe carries one direction: a reader that puts bytes on the wire at the
// link's rate and a writer that hands them over half an RTT later. Nothing
// is read before notBefore.
func (p *Proxy) pipe(src, dst net.Conn, b *bucket, sent *atomic.Int64, notBefore time.Time, cut func()) {
	oneWay := p.link.RTT / 2
	win := newWindow(p.link.Window)
	// Window/chunk segments at most are ever queued.
	q := make(chan segment, p.link.Window/chunk+2)
	var wg sync.WaitGroup
	wg.Go(func() {
		for s := range q {
			sleepUntil(s.due)
			if s.end {
				if s.err != nil {
					cut()
				} else if cw, ok := dst.(interface{ CloseWrite() error }); ok {
					cw.CloseWrite()
				}
				continue
			}
			// Counted before the write, so that a peer that has read the
			// bytes sees them counted.
			n := int64(len(s.b))
			sent.Add(n)
			_, err := dst.Write(s.b)
			bufs.Put((*[chunk]byte)(s.b[:chunk]))
			if err != nil {
				sent.Add(-n)
				cut()
				// Keep draining so that the reader never blocks on q.
				win.close()
				continue
			}
			// The acknowledgement takes half an RTT to come back.
			time.AfterFunc(oneWay, func() { win.release(n) })
		}
	})
	defer wg.Wait()
	defer close(q)
	sleepUntil(notBefore)
	var last time.Time // when the previous bytes left the wire
	for {
		t0 := time.Now()
		if !win.acquire(chunk) {
			q <- segment{end: true, due: time.Now(), err: errClosed}
			return
		}
		buf := bufs.Get().(*[chunk]byte)[:]
		n, err := src.Read(buf)
		win.release(int64(chunk - n))
		if n == 0 {
			bufs.Put((*[chunk]byte)(buf))
		}
		if n > 0 {
			now := time.Now()
			from := last
			if now.Sub(t0) > blocked || from.Before(now.Add(-catchUp)) {
				from = now
			}
			last = b.reserve(n, from)
			q <- segment{b: buf[:n], due: last.Add(oneWay)}
			sleepUntil(last)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			q <- segment{end: true, due: time.Now().Add(oneWay), err: err}
			if err != nil {
				win.close()
			}
			return
		}
	}
}

var errClosed = errors.New("shaper: connection closed")

// bufs recycles the chunks: at 200 Mbit/s a link moves 800 a second.
var bufs = sync.Pool{New: func() any { return new([chunk]byte) }}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// bucket is a token bucket of one direction: it hands out the time at
// which n bytes will have left the wire, the bytes of all connections in
// the order they asked.
type bucket struct {
	rate int64
	mu   sync.Mutex
	next time.Time
}

// reserve queues n bytes that may start on the wire at from (see blocked)
// or once the bytes queued before them have left.
func (b *bucket) reserve(n int, from time.Time) time.Time {
	if b.rate <= 0 {
		return from
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if floor := from; b.next.Before(floor) {
		b.next = floor
	}
	b.next = b.next.Add(time.Duration(float64(n) * float64(time.Second) / float64(b.rate)))
	return b.next
}

// window counts one direction's bytes in flight.
type window struct {
	mu     sync.Mutex
	cond   *sync.Cond
	free   int64
	closed bool
}

func newWindow(n int64) *window {
	w := &window{free: n}
	w.cond = sync.NewCond(&w.mu)
	return w
}

// acquire waits until n bytes may be in flight; false once closed.
func (w *window) acquire(n int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.free < n && !w.closed {
		w.cond.Wait()
	}
	if w.closed {
		return false
	}
	w.free -= n
	return true
}

func (w *window) release(n int64) {
	w.mu.Lock()
	w.free += n
	w.mu.Unlock()
	w.cond.Broadcast()
}

func (w *window) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.cond.Broadcast()
}
