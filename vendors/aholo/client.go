package aholo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/vendors"
)

// Signer adds the caller's credentials to a request for the Aholo open API.
// The open-platform signature (OpenAPISigner) is the one mode today; the
// newer platform's API key would be a second Signer setting a header.
type Signer interface {
	Sign(r *http.Request)
}

// OpenAPISigner signs with the Kujiale open-platform scheme: query
// parameters appkey, timestamp (Unix ms), sign and appuid, where sign is the
// lowercase hex MD5 of appSecret+appKey+appuid+timestamp.
type OpenAPISigner struct {
	AppKey, AppSecret, AppUID string
	Clock                     vendors.Clock // nil: the system clock
}

// Sign sets the signature query parameters, replacing any earlier ones, so
// that a retried request carries a fresh timestamp.
func (s OpenAPISigner) Sign(r *http.Request) {
	now := time.Now()
	if s.Clock != nil {
		now = s.Clock.Now()
	}
	ts := strconv.FormatInt(now.UnixMilli(), 10)
	q := r.URL.Query()
	q.Set("appkey", s.AppKey)
	q.Set("timestamp", ts)
	q.Set("sign", Signature(s.AppSecret, s.AppKey, s.AppUID, ts))
	if s.AppUID != "" {
		q.Set("appuid", s.AppUID)
	}
	r.URL.RawQuery = q.Encode()
}

// Signature is the open-platform sign: hex md5(appSecret + appKey + appUID +
// timestamp); without an appuid, md5(appSecret + appKey + timestamp).
func Signature(appSecret, appKey, appUID, timestamp string) string {
	sum := md5.Sum([]byte(appSecret + appKey + appUID + timestamp))
	return hex.EncodeToString(sum[:])
}

// client sends requests to the open API and to OUS and classifies every
// failure into a vendors.Kind, once, here.
type client struct {
	endpoint *url.URL
	signer   Signer
	http     *http.Client
	clock    vendors.Clock
	log      *slog.Logger
}

// maxAnswer bounds an answer of the API or OUS: they are a few KiB.
const maxAnswer = 8 << 20

// tokenError marks an OUS answer saying the upload token is expired or
// unknown: the caller fetches a new token and tries once more.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

func isTokenError(err error) bool {
	var te *tokenError
	return errors.As(err, &te)
}

// answer is what came of one request.
type answer struct {
	reached bool  // a connection was made: something may have reached the server
	err     error // transport failure, or reading the answer failed; no URL in it
	status  int
	header  http.Header
	env     *envelope // nil when the body was not an envelope
	body    []byte
	at      time.Time
}

// roundTrip sends req and reads the answer. The transport's error has the
// URL (and so the signature) stripped.
func (c *client) roundTrip(req *http.Request) (a answer) {
	resp, reached, err := vendors.Send(c.http, req)
	a.reached = reached
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		a.err = fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	if resp == nil {
		a.at = c.clock.Now()
		return a
	}
	defer resp.Body.Close()
	a.status, a.header = resp.StatusCode, resp.Header
	if a.err == nil {
		a.body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		if err != nil {
			a.err = fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL.Path, err)
		} else if len(a.body) > maxAnswer {
			a.body = a.body[:maxAnswer]
			a.err = fmt.Errorf("%s %s: answer larger than %d bytes, not read", req.Method, req.URL.Path, maxAnswer)
		}
	}
	a.at = c.clock.Now()
	var env envelope
	if json.Unmarshal(a.body, &env) == nil {
		// The quickstart reads OUS answers' d without looking at c;
		// accept an answer with data and no code as a success.
		if env.C == "" && len(env.D) > 0 && string(env.D) != "null" && a.status/100 == 2 {
			env.C = "0"
		}
		if env.C != "" {
			a.env = &env
		}
	}
	return a
}

var (
	authWords     = []string{"sign", "appkey", "appuid", "app key", "timestamp", "auth", "permission", "unauthori", "forbidden", "签名", "权限", "鉴权", "用户标识"}
	throttleWords = []string{"too many", "throttl", "rate limit", "busy", "频繁", "繁忙", "限流"}
	tokenWords    = []string{"token"}
)

func containsAny(s string, words []string) bool {
	s = strings.ToLower(s)
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// classify turns an answer into nil or a *vendors.Error: first what the
// HTTP level says (vendors.HTTPOutcome, the table both vendors share), then
// the envelope. creates marks the call that creates a project; ous marks
// upload-service calls, whose auth is the upload token.
func classify(op string, a answer, creates, ous bool) error {
	snippet := strings.TrimSpace(string(a.body[:min(len(a.body), 200)]))
	detail := snippet
	if a.env != nil {
		detail = fmt.Sprintf("%s (c=%s)", a.env.message(), a.env.C)
	}
	x := vendors.Exchange{Creates: creates, Reached: a.reached, Err: a.err, Status: a.status, Header: a.header, Detail: detail, Now: a.at}
	if e := vendors.HTTPOutcome(op, x); e != nil {
		return e
	}
	if a.env != nil && a.env.ok() && a.status/100 == 2 {
		return nil
	}
	if a.env != nil {
		// An error envelope: the service handled the request and refused it.
		msg := a.env.message()
		e := &vendors.Error{Op: op, SafeToRetry: true, Err: fmt.Errorf("%s (c=%s, HTTP %d)", msg, a.env.C, a.status)}
		switch {
		case ous && (a.status == http.StatusUnauthorized || a.status == http.StatusForbidden || containsAny(msg, tokenWords)):
			e.Kind, e.Err = vendors.Transient, &tokenError{msg: e.Err.Error()}
		case containsAny(msg, throttleWords):
			e.Kind = vendors.Transient
		case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden || containsAny(msg, authWords):
			e.Kind = vendors.Auth
		default:
			e.Kind = vendors.Rejected
		}
		return e
	}
	e := &vendors.Error{Op: op, SafeToRetry: a.status/100 != 2, Err: fmt.Errorf("unexpected answer: HTTP %d %q", a.status, snippet)}
	switch {
	case a.status/100 == 2 && creates:
		// The answer to a create is lost: a project may exist.
		e.Kind = vendors.Unknown
	case a.status/100 == 2:
		e.Kind = vendors.Transient
	case ous && (a.status == http.StatusUnauthorized || a.status == http.StatusForbidden):
		e.Kind, e.Err = vendors.Transient, &tokenError{msg: e.Err.Error()}
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		e.Kind = vendors.Auth
	case a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed || a.status == http.StatusNotImplemented:
		e.Kind, e.Err = vendors.Rejected, &missingEndpoint{err: e.Err}
	default:
		e.Kind = vendors.Rejected
	}
	return e
}

// missingEndpoint is an answer saying the service has no such endpoint.
type missingEndpoint struct{ err error }

func (m *missingEndpoint) Error() string { return m.err.Error() }

// newAPIRequest builds a request to endpoint+path; body, if not nil, is sent
// as JSON.
func (c *client) newAPIRequest(ctx context.Context, method, path string, query url.Values, body []byte) (*http.Request, error) {
	u := *c.endpoint
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	c.signer.Sign(req)
	return req, nil
}

// api makes one signed call and decodes d into out. It does not retry.
// A failure that certainly left the service untouched (no connection, or an
// error envelope) is marked SafeToRetry; creates marks the call that creates
// a project, whose lost answer is an unknown outcome.
func (c *client) api(ctx context.Context, op, method, path string, query url.Values, in, out any, creates bool) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return &vendors.Error{Kind: vendors.Other, Op: op, SafeToRetry: true, Err: err}
		}
	}
	ctx, explain, cancel := vendors.BoundCall(ctx)
	defer cancel()
	req, err := c.newAPIRequest(ctx, method, path, query, body)
	if err != nil {
		return &vendors.Error{Kind: vendors.Other, Op: op, SafeToRetry: true, Err: err}
	}
	a := c.roundTrip(req)
	a.err = explain(a.err)
	if err := classify(op, a, creates, false); err != nil {
		return err
	}
	err = decodeData(op, a.env, out)
	if creates && err != nil {
		// Success with data we cannot read: the project may exist.
		err.(*vendors.Error).Kind = vendors.Unknown
	}
	return err
}

// decodeData decodes d into out. Its error is always a *vendors.Error.
func decodeData(op string, env *envelope, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(env.D, out); err != nil {
		return vendors.E(vendors.Transient, op, fmt.Errorf("unexpected data %.200q: %v", env.D, err))
	}
	return nil
}

// ousBase turns globalDomain into a base URL: https://{globalDomain}, as
// the document says. globalDomain has been seen with a scheme (and a
// trailing slash) too; then it must be https, because the upload token and
// the files travel to it. What is left must be a bare host[:port]
// (vendors.CheckHostPort, the rule the Realsee upload host follows too).
func ousBase(domain string) (*url.URL, error) {
	domain = strings.TrimSpace(domain)
	if domain == "" {
		return nil, errors.New("empty globalDomain")
	}
	host := domain
	if scheme, rest, ok := strings.Cut(domain, "://"); ok {
		if !strings.EqualFold(scheme, "https") {
			return nil, fmt.Errorf("globalDomain %q is not HTTPS; the upload token and the files are sent only over HTTPS", textsafe.Clean(domain, 256))
		}
		host = strings.TrimSuffix(rest, "/")
	}
	if err := vendors.CheckHostPort("the token's globalDomain", host); err != nil {
		return nil, err
	}
	return &url.URL{Scheme: "https", Host: host}, nil
}
