package vendors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// This file is the one table of HTTP outcomes every vendor client uses, so
// that the same answer means the same thing whichever vendor gave it:
//
//	outcome                                         kind               SafeToRetry
//	URL not http/https (file://, none): not sent    Rejected           yes
//	no connection (dial, DNS, TLS handshake)        Transient          yes
//	  … TLS certificate not trusted (said so)       Transient          yes
//	429, 503 (Retry-After honoured, bounded)        Transient          yes
//	408                                             Transient          yes
//	redirect to another origin, or https→http       Rejected           307/308: yes
//	  … of a call that creates, 301/302/303         Unknown            no
//	other 3xx, not followed (300, 304, 305)         creates: Unknown   no
//	                                                else: Transient
//	connection lost after it was made, answer cut,  creates: Unknown   no
//	  answer not whole within CallTimeout,          else: Transient
//	  500, 502, 504 and other 5xx but 501/505
//	anything else (2xx, 4xx, 501, 505)              the vendor's envelope decides
//
// 429 and 503 say the server did not take the request on; a 5xx of any
// other kind, or an answer that never arrived whole, says nothing about
// what the server did before it failed, so a call that creates (a task, a
// project) must not be repeated blindly. A refused redirect never reached
// the other host, but the configured one answered it: 307 and 308 promise
// the request was not acted on (the same request is wanted elsewhere);
// 303 says it was ("done, see other"); 301 and 302 promise neither, and
// the Post/Redirect/Get pattern has long answered a POST it acted on with
// a 302 — so on a create they stay unknown outcomes, like 303.

// MaxRetryAfter bounds a server's Retry-After: a longer wait is the
// server's wish, not a promise, and the job's own timeout still runs.
const MaxRetryAfter = 10 * time.Minute

// CallTimeout bounds one small API call as a whole — token, submit, poll,
// the upload service's token and status calls — from the request to the
// last byte of the answer. Their answers are small and size-bounded, so a
// call that takes longer is a peer trickling bytes (which the stall guard,
// reset by every byte, lets through) or hung: without this bound one such
// call holds its job, and a max_jobs slot, for ever. A variable so that
// tests can shorten it; bulk transfers are bounded by the stall guard's
// minimum rate instead.
var CallTimeout = 2 * time.Minute

// BoundCall returns ctx bounded by CallTimeout, and a function that names
// that bound in an error it caused (the transport says only "context
// deadline exceeded"). Use the context for the request and for reading the
// answer; call cancel when the answer has been read.
func BoundCall(ctx context.Context) (bounded context.Context, explain func(error) error, cancel context.CancelFunc) {
	d := CallTimeout
	bounded, cancel = context.WithTimeout(ctx, d)
	explain = func(err error) error {
		if err != nil && ctx.Err() == nil && errors.Is(bounded.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("no complete answer within %s: %w", d, err)
		}
		return err
	}
	return bounded, explain, cancel
}

// Exchange is what came of one HTTP request, for HTTPOutcome.
type Exchange struct {
	// Creates marks a call that creates something on the vendor's side
	// (a task, a project): not idempotent.
	Creates bool
	// Reached reports whether a connection to the server was made (Send
	// tells). Without one, nothing can have reached the server.
	Reached bool
	// Err is the transport's error, or the error reading the answer.
	Err error
	// Status and Header are the answer's, if one arrived.
	Status int
	Header http.Header
	// Detail is what the answer said, for the message ("HTML page", the
	// envelope's message); it must hold no secret.
	Detail string
	// Now is the time the answer arrived, for a Retry-After date.
	Now time.Time
}

// HTTPOutcome returns the error an exchange amounts to at the HTTP level,
// or nil when the answer is for the vendor's envelope to decide. It
// returns an error for every Exchange with an Err.
func HTTPOutcome(op string, x Exchange) *Error {
	detail := ""
	if x.Detail != "" {
		detail = ": " + x.Detail
	}
	var re *RedirectError
	switch {
	case errors.As(x.Err, &re):
		e := &Error{Kind: Rejected, Op: op, SafeToRetry: re.notHandled(), Err: re}
		if x.Creates && !e.SafeToRetry {
			// A 303 after a POST is how a server says "done, see there".
			e.Kind = Unknown
		}
		return e
	case x.Status == http.StatusTooManyRequests || x.Status == http.StatusServiceUnavailable:
		e := &Error{Kind: Transient, Op: op, SafeToRetry: true, Err: fmt.Errorf("HTTP %d %s%s", x.Status, http.StatusText(x.Status), detail)}
		e.RetryAfter = RetryAfter(x.Header, x.Now)
		if e.RetryAfter > 0 {
			e.Err = fmt.Errorf("%w (retry after %s)", e.Err, e.RetryAfter)
		}
		return e
	case errors.As(x.Err, new(*SchemeError)):
		// Nothing was sent: the URL itself is wrong, and will be next time.
		return &Error{Kind: Rejected, Op: op, SafeToRetry: true, Err: x.Err}
	case x.Status == http.StatusRequestTimeout:
		return &Error{Kind: Transient, Op: op, SafeToRetry: true, Err: fmt.Errorf("HTTP %d %s%s", x.Status, http.StatusText(x.Status), detail)}
	case x.Err != nil && certificateProblem(x.Err):
		// Retried: an operator may fix the CA bundle or the proxy while
		// the job waits; the message says what to fix.
		return &Error{Kind: Transient, Op: op, SafeToRetry: true,
			Err: fmt.Errorf("TLS certificate problem (check the system's CA certificates, the clock, or a proxy that intercepts HTTPS): %w", x.Err)}
	case x.Err != nil && (!x.Reached || noConnection(x.Err)):
		return &Error{Kind: Transient, Op: op, SafeToRetry: true, Err: x.Err}
	case x.Err != nil:
		return lost(op, x.Creates, x.Err)
	case x.Status >= 300 && x.Status < 400:
		// A redirect Go does not follow (300, 304, 305, …) answered the
		// request without saying it was not acted on.
		return lost(op, x.Creates, fmt.Errorf("HTTP %d %s: a redirect scandrop does not follow%s", x.Status, http.StatusText(x.Status), detail))
	case x.Status >= 500 && x.Status != http.StatusNotImplemented && x.Status != http.StatusHTTPVersionNotSupported:
		return lost(op, x.Creates, fmt.Errorf("HTTP %d %s%s", x.Status, http.StatusText(x.Status), detail))
	}
	return nil
}

// lost is a request that reached the server and whose fate is unknown.
func lost(op string, creates bool, err error) *Error {
	if creates {
		return &Error{Kind: Unknown, Op: op, Err: fmt.Errorf("%w; the request reached the service, which may have acted on it", err)}
	}
	return &Error{Kind: Transient, Op: op, Err: err}
}

// noConnection reports whether err proves that no connection was made:
// a dial or DNS failure, whatever the trace said (a reused connection may
// have been replaced by a dial that failed).
func noConnection(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial")
}

// certificateProblem reports whether err is a failure to verify the
// server's TLS certificate.
func certificateProblem(err error) bool {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &host) || errors.As(err, &invalid) || errors.As(err, &verify)
}

// SchemeError is a URL, handed out by a vendor, that is not http or https
// (file://, ftp://, no scheme at all): nothing was sent, and nothing ever
// will be. It names the scheme only: the URL may carry a signature.
type SchemeError struct{ Scheme string }

func (e *SchemeError) Error() string {
	if e.Scheme == "" {
		return "the URL has no scheme; only http and https URLs are used"
	}
	return fmt.Sprintf("the URL's scheme is %q; only http and https URLs are used", e.Scheme)
}

// RetryAfter reads a Retry-After header, in seconds or as an HTTP date,
// bounded by MaxRetryAfter. Absent, malformed or past: 0.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

// RetryAfterOf is the Retry-After of the first *Error in err's chain.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Send performs req with hc and reports whether a connection to the server
// was made, i.e. whether anything may have reached it.
// A URL that is not http or https is refused before anything is sent, with
// a *SchemeError, which HTTPOutcome calls Rejected.
func Send(hc *http.Client, req *http.Request) (resp *http.Response, reached bool, err error) {
	if s := strings.ToLower(req.URL.Scheme); s != "http" && s != "https" {
		return nil, false, &SchemeError{Scheme: req.URL.Scheme}
	}
	var got atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { got.Store(true) }}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err = hc.Do(req)
	return resp, got.Load(), err
}

// ---- redirects

// RedirectError is a redirect that was not followed: it led a request
// that carries credentials to another origin (scheme, host and port), or
// from https to http. From and To are origins only: a path or query could
// hold a signature.
type RedirectError struct {
	Status   int
	From, To string
	Reason   string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("HTTP %d redirect from %s to %s refused: %s; check the endpoint in config.yaml (has the service moved, or is a proxy answering for it?)",
		e.Status, e.From, e.To, e.Reason)
}

// notHandled reports whether the redirect says the request was not acted
// on: 307 and 308 ask for the same request elsewhere.
func (e *RedirectError) notHandled() bool {
	return e.Status == http.StatusTemporaryRedirect || e.Status == http.StatusPermanentRedirect
}

type noCredentialsKey struct{}

// WithoutCredentials marks requests made with ctx as carrying no
// credentials of ours (a download of a result URL the vendor handed out):
// they may follow redirects to other hosts, e.g. a CDN's.
func WithoutCredentials(ctx context.Context) context.Context {
	return context.WithValue(ctx, noCredentialsKey{}, true)
}

// maxRedirects is http.Client's own limit, which a CheckRedirect replaces.
const maxRedirects = 10

// GuardRedirects returns a copy of hc that never carries credentials
// anywhere but where the request was first sent: a redirect to another
// origin is refused (a *Error wrapping a *RedirectError), unless the
// request's context says WithoutCredentials; a redirect from https to http
// is refused always. Go's client would re-send a POST body on 307/308
// (app_secret), custom headers (an upload token) and a redirect's own
// query, and keeps Authorization for another port of the same host. hc's
// own CheckRedirect, if any, runs after this one. No redirect carries a
// Referer. Every refusal is logged
// to log at level ERROR: it is a misconfiguration or an attack, and must be
// loud.
func GuardRedirects(hc *http.Client, log *slog.Logger) *http.Client {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkRedirect(req, via); err != nil {
			var re *RedirectError
			if errors.As(err, &re) && log != nil {
				log.Error("redirect refused: credentials would leave the configured host",
					"status", re.Status, "from", re.From, "to", re.To, "reason", re.Reason)
			}
			return err
		}
		// Go sets Referer to the previous URL, which may be signed (an
		// asset's address): the next host has no business with it.
		req.Header.Del("Referer")
		if next != nil {
			return next(req, via)
		}
		return nil
	}
	return &c
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	from, prev, to := origin(via[0].URL.Scheme, via[0].URL.Host), via[len(via)-1].URL, origin(req.URL.Scheme, req.URL.Host)
	refuse := func(reason string) error {
		re := &RedirectError{Status: status, From: from, To: to, Reason: reason}
		return &Error{Kind: Rejected, SafeToRetry: re.notHandled(), Err: re}
	}
	switch {
	case len(via) >= maxRedirects:
		return refuse(fmt.Sprintf("stopped after %d redirects", maxRedirects))
	case strings.EqualFold(prev.Scheme, "https") && !strings.EqualFold(req.URL.Scheme, "https"):
		return refuse("it would leave HTTPS")
	case req.Context().Value(noCredentialsKey{}) != nil:
		return nil
	case from != to:
		return refuse("credentials are sent only to the configured service, never to another host")
	}
	return nil
}

// origin is scheme://host:port, lower-cased, with the scheme's default
// port made explicit, so that two spellings of one origin compare equal.
func origin(scheme, hostport string) string {
	scheme = strings.ToLower(scheme)
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.Trim(hostport, "[]"), ""
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(host), port)
}
