package realsee

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/internal/stall"
)

// client talks to the Realsee gateway and keeps its access token fresh.
type client struct {
	endpoint  string
	appKey    string
	appSecret string
	http      *http.Client
	clock     vendors.Clock

	mu       sync.Mutex
	token    string
	expireAt time.Time
}

// tokenMargin is how long before expire_at a token is replaced. Tokens have
// been seen to die well before their expire_at, so the margin is wide and an
// expired answer triggers a refresh anyway.
const tokenMargin = 2 * time.Minute

// accessToken returns a valid token, fetching a new one when none is held,
// when it is near expire_at, or when force is set.
func (c *client) accessToken(ctx context.Context, force bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !force && c.token != "" && c.clock.Now().Add(tokenMargin).Before(c.expireAt) {
		return c.token, nil
	}
	form := url.Values{"app_key": {c.appKey}, "app_secret": {c.appSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/auth/access_token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", vendors.E(vendors.Other, "realsee: access_token", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok accessToken
	env, err := c.do(req, false, &tok)
	if err != nil {
		return "", wrapOp("realsee: access_token", err)
	}
	if env.Code != codeOK {
		// The document gives one failure of this call: code -1, "illegal
		// app", wrong app_key or app_secret. Any other code ("system
		// busy" under another number, rate limits) is the gateway's
		// trouble, not the credentials': retried, and never a reason to
		// hold an account's drops.
		kind := vendors.Transient
		if env.Code == codeFailed {
			kind = vendors.Auth
		}
		return "", envErr("realsee: access_token", kind, env)
	}
	if tok.AccessToken == "" {
		return "", &vendors.Error{Kind: vendors.Transient, Op: "realsee: access_token", RequestID: env.RequestID, Err: errors.New("answer has no access_token")}
	}
	c.token = tok.AccessToken
	c.expireAt = time.Unix(int64(tok.ExpireAt), 0)
	if tok.ExpireAt == 0 {
		c.expireAt = c.clock.Now().Add(10 * time.Minute)
	}
	return c.token, nil
}

// call sends an authorized request to the gateway and decodes data into
// out. A POST is taken to create something (submit, the one POST made
// here, does), so that a lost answer to it is an unknown outcome. It makes
// one attempt and never waits to repeat it: a Transient error goes back
// to the pipeline, whose pacer waits (internal/backoff). An expired token
// is refreshed and the call repeated once, at once, which is safe for
// every endpoint: an expired answer means the call did nothing.
func (c *client) call(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	for attempt := 0; ; attempt++ {
		tok, err := c.accessToken(ctx, attempt > 0)
		if err != nil {
			var e *vendors.Error
			if errors.As(err, &e) && e.Kind == vendors.Transient {
				e.SafeToRetry = true // the call itself was not sent
			}
			return err
		}
		u := c.endpoint + path
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return vendors.E(vendors.Other, op, err)
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, u, rd)
		if err != nil {
			return vendors.E(vendors.Other, op, err)
		}
		req.Header.Set("Authorization", tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		env, err := c.do(req, method == http.MethodPost, out)
		if err != nil {
			return wrapOp(op, err)
		}
		switch {
		case env.Code == codeOK:
			return nil
		case isExpired(env) && attempt == 0:
			continue
		case isExpired(env):
			return envErr(op, vendors.Transient, env)
		case isAuthFailure(env):
			return envErr(op, vendors.Auth, env)
		default:
			return envErr(op, vendors.Rejected, env)
		}
	}
}

// do performs req and decodes the envelope; data goes into out when the
// code is 0. What the HTTP level says is decided by vendors.HTTPOutcome,
// the table both vendors share; creates marks the call that creates a task.
//
// The whole call, answer included, is bounded by vendors.CallTimeout, and
// the answer by maxAPIAnswer bytes.
func (c *client) do(req *http.Request, creates bool, out any) (*envelope, error) {
	ctx, explain, cancel := vendors.BoundCall(req.Context())
	defer cancel()
	req = req.WithContext(ctx)
	resp, reached, err := vendors.Send(c.http, req)
	x := vendors.Exchange{Creates: creates, Reached: reached, Err: explain(stripURL(err))}
	var raw []byte
	tooLarge := false
	if resp != nil {
		x.Status, x.Header = resp.StatusCode, resp.Header
		if err == nil {
			raw, err = io.ReadAll(io.LimitReader(resp.Body, maxAPIAnswer+1))
			if err != nil {
				x.Err = explain(fmt.Errorf("reading answer: %w", err))
			}
			if len(raw) > maxAPIAnswer {
				raw, tooLarge = raw[:maxAPIAnswer], true
			}
		}
		resp.Body.Close()
	}
	x.Now = c.clock.Now()
	var env envelope
	jsonErr := json.Unmarshal(raw, &env)
	x.Detail = strings.TrimPrefix(snippet(env.Status, raw, jsonErr), ": ")
	if e := vendors.HTTPOutcome("", x); e != nil {
		e.RequestID = env.RequestID
		return nil, e
	}
	if resp.StatusCode != http.StatusOK {
		// A refusal (4xx): the gateway did not act on the request.
		kind := vendors.Rejected
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			kind = vendors.Auth
		}
		return nil, &vendors.Error{Kind: kind, RequestID: env.RequestID, SafeToRetry: true,
			Err: fmt.Errorf("HTTP %s%s", resp.Status, snippet(env.Status, raw, jsonErr))}
	}
	if jsonErr != nil {
		// A proxy's HTML error page, a truncated answer: weather, not a
		// verdict — but a submit's answer is lost with it.
		kind := vendors.Transient
		if creates {
			kind = vendors.Unknown
		}
		if tooLarge {
			return nil, &vendors.Error{Kind: kind, Err: fmt.Errorf("answer larger than %d bytes, not read: %s", maxAPIAnswer, firstBytes(raw))}
		}
		return nil, &vendors.Error{Kind: kind, Err: fmt.Errorf("answer is not JSON: %s", firstBytes(raw))}
	}
	if env.Code == codeOK && out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return nil, &vendors.Error{Kind: vendors.Rejected, RequestID: env.RequestID, Err: fmt.Errorf("decoding data: %w", err)}
		}
	}
	return &env, nil
}

// maxAPIAnswer bounds an API answer: they are a few KiB.
const maxAPIAnswer = 8 << 20

// stripURL keeps a transport error's cause and drops the *url.Error
// around it, whose URL the caller knows already.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redactURL(ue.URL), ue.Err)
	}
	return err
}

// redactURL is u without its query.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func isExpired(env *envelope) bool {
	return env.Code == codeExpired || strings.Contains(strings.ToLower(env.Status), "expired")
}

func isAuthFailure(env *envelope) bool {
	s := strings.ToLower(env.Status)
	return string(env.BusinessCode) == "10001" || strings.Contains(s, "illegal app") ||
		strings.Contains(s, "用户标识不能为空") || strings.Contains(s, "access_token") ||
		strings.Contains(s, "permission") || strings.Contains(s, "unauthorized")
}

// envErr turns a non-zero envelope into an error: an error answer means the
// gateway handled the request and refused it, so nothing was created.
func envErr(op string, kind vendors.Kind, env *envelope) error {
	msg := fmt.Sprintf("code %d: %s", env.Code, env.Status)
	if env.BusinessCode != "" {
		msg += fmt.Sprintf(" (business_code %s)", env.BusinessCode)
	}
	if kind == vendors.Auth {
		msg += "; check realsee.app_key/app_secret and that the account has the 全景图生成VR capability"
	}
	id := env.RequestID
	if env.TraceID != "" && env.TraceID != id {
		id += ", trace " + env.TraceID
	}
	return &vendors.Error{Kind: kind, Op: op, RequestID: id, SafeToRetry: true, Err: errors.New(msg)}
}

func wrapOp(op string, err error) error {
	var e *vendors.Error
	if errors.As(err, &e) && e.Op == "" {
		e.Op = op
		return e
	}
	return err
}

func snippet(status string, raw []byte, jsonErr error) string {
	if jsonErr == nil && status != "" {
		return ": " + status
	}
	if len(raw) == 0 {
		return ""
	}
	return ": " + firstBytes(raw)
}

func firstBytes(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// DefaultStallTimeout bounds how long a connection may move nothing.
const DefaultStallTimeout = stall.DefaultTimeout
