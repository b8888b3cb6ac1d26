// Package faultproxy is a reverse proxy for tests that puts the faults of
// real networks between a client and the server it talks to: bursts of 5xx
// answers, connections reset in the middle of a request or of an answer,
// and stalls — a peer that keeps the connection open and never says
// anything again.
//
// A Proxy forwards every request to its target unchanged (the Host header
// included, so that signed requests such as S3's still verify) until a Rule
// says otherwise. Rules are consulted in the order they were added; the
// first whose Match accepts a request and that has uses left applies.
//
//	p := faultproxy.New(gateway.URL)
//	defer p.Close()
//	p.Add(faultproxy.Rule{Fault: faultproxy.Status, Status: 502, Times: 5})
//	p.Add(faultproxy.Rule{Match: faultproxy.Path("/open/v1/pano/task/status"), Fault: faultproxy.Stall, Times: 1})
//
// Reset closes the TCP connection with SO_LINGER 0, so the client sees
// ECONNRESET as it would from a crashed middlebox, not a polite FIN.
package faultproxy

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Fault is what a Rule does to a request.
type Fault int

const (
	// Pass forwards the request. A Pass rule placed first exempts the
	// requests it matches from the rules after it.
	Pass Fault = iota
	// Status answers Rule.Status (with Rule.Body) without forwarding.
	Status
	// Reset reads Rule.After bytes of the request body, then resets the
	// connection without forwarding anything.
	Reset
	// Stall reads Rule.After bytes of the request body, then neither reads
	// nor answers for Rule.For (0: until the client gives up or the proxy
	// closes), then resets the connection. Nothing is forwarded.
	Stall
	// ResetAnswer forwards the request, so the server does its work, then
	// sends the client the answer's headers and Rule.After bytes of its
	// body and resets the connection: the client cannot know what
	// happened.
	ResetAnswer
	// StallAnswer forwards the request, sends the answer's headers and
	// Rule.After bytes of its body, then stalls as Stall does.
	StallAnswer
	// Delay holds the request for Rule.For, then forwards it: a slow link
	// or a busy server, not a dead one.
	Delay
	// Trickle forwards the request, sends the answer's headers (without
	// its length), then its body one byte every Rule.For (default 1s),
	// then spaces — valid trailing JSON whitespace — for ever: a peer that
	// never stalls and never finishes.
	Trickle
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case Status:
		return "status"
	case Reset:
		return "reset"
	case Stall:
		return "stall"
	case ResetAnswer:
		return "reset-answer"
	case StallAnswer:
		return "stall-answer"
	case Delay:
		return "delay"
	case Trickle:
		return "trickle"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// Rule is one fault and the requests it applies to.
type Rule struct {
	// Match selects requests; nil selects every request.
	Match func(r *http.Request) bool
	Fault Fault
	// Status and Body are the answer of a Status fault. Body defaults to a
	// proxy's HTML error page, which clients must not mistake for an
	// answer of the server.
	Status int
	Body   string
	// Header is added to a Status fault's answer (Retry-After, Location).
	Header http.Header
	// After is how many body bytes (of the request for Reset and Stall, of
	// the answer for ResetAnswer and StallAnswer) pass before the fault.
	After int64
	// For is how long a stall or a delay lasts; 0 is until the client
	// gives up or the proxy closes.
	For time.Duration
	// Times is how many requests the rule applies to; 0 is no limit.
	Times int
}

// Path matches requests whose URL path is one of paths.
func Path(paths ...string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		for _, p := range paths {
			if r.URL.Path == p {
				return true
			}
		}
		return false
	}
}

// Method matches requests with the method, and whose URL query has every
// key in queryKeys (e.g. Method("PUT", "partNumber") for S3 UploadPart).
func Method(method string, queryKeys ...string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.Method != method {
			return false
		}
		q := r.URL.Query()
		for _, k := range queryKeys {
			if !q.Has(k) {
				return false
			}
		}
		return true
	}
}

// Stats count what the proxy did.
type Stats struct {
	Requests  int           // every request received
	Forwarded int           // requests forwarded to the target
	Faults    map[Fault]int // requests a fault was applied to, by fault
}

// Proxy is a running fault-injecting reverse proxy. Its methods are safe
// for concurrent use.
type Proxy struct {
	// URL is the proxy's base URL, "http://127.0.0.1:port": give it to the
	// client in place of the target's.
	URL string

	target *url.URL
	rp     *httputil.ReverseProxy
	srv    *http.Server
	closed chan struct{}
	once   sync.Once

	mu    sync.Mutex
	rules []*rule
	stats Stats
}

type rule struct {
	Rule
	left int // uses left; <0 is unlimited
}

// New starts a proxy in front of target (a base URL such as
// "http://127.0.0.1:8080") on a loopback port. Like httptest.NewServer it
// panics when it cannot start: it is for tests.
func New(target string) *Proxy {
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		panic(fmt.Sprintf("faultproxy: bad target %q", target))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("faultproxy: listen: " + err.Error())
	}
	p := &Proxy{URL: "http://" + l.Addr().String(), target: u, closed: make(chan struct{}),
		stats: Stats{Faults: map[Fault]int{}}}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			// Signed requests (S3's SigV4) sign the Host the client used.
			pr.Out.Host = pr.In.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = pr.In.URL.Path, pr.In.URL.RawPath
			if u.Path != "" && u.Path != "/" {
				pr.Out.URL.Path = strings.TrimSuffix(u.Path, "/") + pr.In.URL.Path
				pr.Out.URL.RawPath = ""
			}
		},
		Transport:     tr,
		FlushInterval: -1, // partial answers reach the client before a stall
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: p, ErrorLog: log.New(io.Discard, "", 0)}
	go p.srv.Serve(l)
	return p
}

// Add appends a rule and returns a function that removes it.
func (p *Proxy) Add(r Rule) (remove func()) {
	rr := &rule{Rule: r, left: r.Times}
	if r.Times <= 0 {
		rr.left = -1
	}
	p.mu.Lock()
	p.rules = append(p.rules, rr)
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for i, x := range p.rules {
			if x == rr {
				p.rules = append(p.rules[:i], p.rules[i+1:]...)
				return
			}
		}
	}
}

// Clear removes every rule: from now on everything is forwarded.
func (p *Proxy) Clear() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// Stats returns the counters so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Faults = make(map[Fault]int, len(p.stats.Faults))
	for k, v := range p.stats.Faults {
		s.Faults[k] = v
	}
	return s
}

// Close stops the proxy, ending every stall and connection.
func (p *Proxy) Close() {
	p.once.Do(func() {
		close(p.closed)
		p.srv.Close()
	})
}

// take picks the rule for r and counts it.
func (p *Proxy) take(r *http.Request) Rule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	for _, rr := range p.rules {
		if rr.left == 0 || (rr.Match != nil && !rr.Match(r)) {
			continue
		}
		if rr.left > 0 {
			rr.left--
		}
		if rr.Fault == Pass {
			break
		}
		p.stats.Faults[rr.Fault]++
		return rr.Rule
	}
	p.stats.Forwarded++
	return Rule{Fault: Pass}
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rule := p.take(r)
	switch rule.Fault {
	case Status:
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<30))
		body := rule.Body
		if body == "" {
			text := http.StatusText(rule.Status)
			body = fmt.Sprintf("<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center><hr><center>faultproxy</center></body></html>\n",
				rule.Status, text, rule.Status, text)
			w.Header().Set("Content-Type", "text/html")
		}
		for k, v := range rule.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(rule.Status)
		io.WriteString(w, body)
	case Reset:
		io.CopyN(io.Discard, r.Body, rule.After)
		reset(w)
	case Stall:
		io.CopyN(io.Discard, r.Body, rule.After)
		p.stall(r.Context(), rule.For)
		reset(w)
	case ResetAnswer, StallAnswer:
		p.faultyAnswer(w, r, rule)
	case Delay:
		p.stall(r.Context(), rule.For)
		p.rp.ServeHTTP(w, r)
	case Trickle:
		p.trickle(w, r, rule.For)
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// stall waits for d (0: for ever), the client going away, or Close.
func (p *Proxy) stall(ctx context.Context, d time.Duration) {
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-ctx.Done():
	case <-p.closed:
	}
}

// trickle forwards r and sends the answer a byte every every, then spaces,
// until the client goes away or the proxy closes.
func (p *Proxy) trickle(w http.ResponseWriter, r *http.Request, every time.Duration) {
	if every <= 0 {
		every = time.Second
	}
	rec := httptest.NewRecorder()
	p.rp.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	body := rec.Body.Bytes()
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		b := byte(' ')
		if i < len(body) {
			b = body[i]
		}
		if _, err := w.Write([]byte{b}); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-p.closed:
			return
		}
	}
}

// faultyAnswer forwards r, then passes rule.After bytes of the answer and
// breaks the connection (after a stall, for StallAnswer).
func (p *Proxy) faultyAnswer(w http.ResponseWriter, r *http.Request, rule Rule) {
	rec := &cutWriter{ResponseWriter: w, left: rule.After}
	p.rp.ServeHTTP(rec, r)
	rec.Flush()
	if rule.Fault == StallAnswer {
		p.stall(r.Context(), rule.For)
	}
	reset(w)
}

// cutWriter passes the headers and the first left bytes of an answer and
// swallows the rest.
type cutWriter struct {
	http.ResponseWriter
	left int64
}

func (c *cutWriter) Write(b []byte) (int, error) {
	n := int64(len(b))
	if n > c.left {
		b = b[:c.left]
	}
	if len(b) > 0 {
		if _, err := c.ResponseWriter.Write(b); err != nil {
			return 0, err
		}
		c.left -= int64(len(b))
	}
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	return int(n), nil
}

func (c *cutWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// reset drops the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
