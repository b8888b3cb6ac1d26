package ops

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
)

// Server is the HTTP listener: / (the status page), /status (the report
// as JSON), /healthz and /metrics.
type Server struct {
	// Report builds the live status report.
	Report func(ctx context.Context) Report
	// Metrics writes the metrics; nil serves none.
	Monitor *Monitor
	// Roots are the watch folders, counted by /metrics.
	Roots []string
	// Version is shown on the page.
	Version string
	// Refresh is the page's refresh period; default 5s.
	Refresh time.Duration
	Logger  *slog.Logger
	// Token, if set, is required by every route but /healthz: as
	// "Authorization: Bearer <token>", or as the password of Basic auth
	// (what a browser can send). Others get 401.
	Token string
}

// Handler returns the server's routes, behind the token if there is one.
func (s *Server) Handler() http.Handler {
	if s.Token == "" {
		return s.routes()
	}
	return s.authorize(s.routes())
}

// authorize lets through /healthz, which tells nothing but "ok" and is what
// probes ask, and requests carrying the token.
func (s *Server) authorize(next http.Handler) http.Handler {
	// Comparing digests keeps the comparison's time independent of both
	// the content and the length of the token.
	want := sha256.Sum256([]byte(s.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		var got string
		if scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
			got = strings.TrimSpace(cred)
		} else if _, pw, ok := r.BasicAuth(); ok {
			got = pw
		}
		sum := sha256.Sum256([]byte(got))
		if got == "" || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Add("WWW-Authenticate", `Bearer realm="scandrop"`)
			w.Header().Add("WWW-Authenticate", `Basic realm="scandrop", charset="UTF-8"`)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "401 unauthorized: send Authorization: Bearer <http.token>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		rep := s.Report(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		// Never taken for HTML, so < and > need no \u escape in it.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		b, _ := pipeline.IndentJSON(rep)
		w.Write(append(textsafe.EscapeJSON(b), '\n'))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if s.Monitor != nil {
			s.Monitor.WriteMetrics(w, s.Roots)
		}
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		refresh := s.Refresh
		if refresh <= 0 {
			refresh = 5 * time.Second
		}
		rep := s.Report(r.Context())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := pageTmpl.Execute(w, pageData{Report: rep, Version: s.Version, Refresh: int(refresh.Seconds())}); err != nil {
			s.log().Debug("status page", "error", err)
		}
	})
	return mux
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// ListenAndServe serves on addr until ctx ends. It returns once the
// listener is open or failed to open (with the error); serving goes on in
// the background. The returned address is the one bound (for port 0).
func (s *Server) ListenAndServe(ctx context.Context, addr string) (net.Addr, <-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return ln.Addr(), done, nil
}

type pageData struct {
	Report  Report
	Version string
	Refresh int
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"bytes": HumanBytes,
	"add":   func(a, b int) int { return a + b },
	"pct": func(done, total int64) int {
		if total <= 0 {
			return 0
		}
		return int(done * 100 / total)
	},
	"when": func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") },
	"ids": func(m map[string]string) string {
		return idsString(m)
	},
}).Parse(pageHTML))

// The page is plain HTML that reloads itself: no script, no framework,
// readable on a phone and in a terminal browser.
const pageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="{{.Refresh}}">
<title>scandrop status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
h2 { font-size: 1.1em; margin: 1.5em 0 .3em; font-family: ui-monospace, monospace; }
h3 { font-size: .95em; margin: 1em 0 .3em; color: #555; }
.meta { color: #777; font-size: .9em; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid #e4e4e4; vertical-align: top; }
th { font-weight: 600; color: #555; font-size: .85em; text-transform: uppercase; letter-spacing: .03em; }
td.name { font-family: ui-monospace, monospace; }
/* A folder name keeps its line up to 24 characters; longer ones, and
   vendor ids, wrap anywhere rather than squeeze the other columns. */
td.folder { min-width: 24ch; overflow-wrap: anywhere; }
td.ids { overflow-wrap: anywhere; }
td.stage { min-width: 20ch; }
.none { color: #999; font-style: italic; }
.err { color: #b00020; }
.ok { color: #0a7d32; }
.warn { color: #a15c00; }
progress { width: 10em; vertical-align: middle; }
td.progress { white-space: nowrap; }
</style>
</head>
<body>
<h1>scandrop</h1>
<div class="meta">{{.Version}} · updated {{when .Report.GeneratedAt}} · refreshes every {{.Refresh}}s · <a href="status">JSON</a> · <a href="metrics">metrics</a></div>
{{range .Report.Watches}}
<h2 class="watch">{{.Dir}}{{if .Account}} <span class="meta">account {{.Account}}</span>{{end}}</h2>
{{if .Error}}<p class="err">{{.Error}}</p>{{else}}
<h3>Processing ({{len .Processing}})</h3>
{{if .Processing}}<table class="processing">
<tr><th>folder</th><th>vendor</th><th>stage</th><th>progress</th><th>age</th><th>vendor ids</th></tr>
{{range .Processing}}<tr>
<td class="name folder">{{.Folder}}</td><td>{{.Vendor}}</td>
<td class="stage">{{.Stage}} <span class="meta">for {{.StageAge}}</span>{{if .VendorStatus}}<br><span class="meta">vendor: {{.VendorStatus}}</span>{{end}}{{if .Retrying}}<br><span class="warn">retrying: {{.Retrying}}{{if .NextAttemptIn}} (next attempt {{.NextAttemptIn}}){{end}}</span>{{end}}{{if .Orphaned}}<br><span class="warn">{{.Orphan}}</span>{{end}}{{if .Error}}<br><span class="err">{{.Error}}</span>{{end}}</td>
<td class="progress">{{if .TotalBytes}}<progress max="{{.TotalBytes}}" value="{{.UploadedBytes}}"></progress> {{pct .UploadedBytes .TotalBytes}}% of {{bytes .TotalBytes}}{{end}}</td>
<td>{{.Age}}</td><td class="name ids">{{ids .VendorIDs}}</td>
</tr>{{end}}
</table>{{else}}<p class="none">nothing running</p>{{end}}
<h3>Inbox ({{len .Inbox}}{{if .InboxMore}} of {{add (len .Inbox) .InboxMore}}{{end}})</h3>
{{if .Inbox}}<table class="inbox">
<tr><th>folder</th><th>why it is not picked up yet</th></tr>
{{range .Inbox}}<tr><td class="name folder">{{.Folder}}</td><td{{if .Refused}} class="warn"{{end}}>{{.Reason}}{{if .Problem}}<br><span class="err">will fail: {{.Problem}}{{if gt .Problems 1}} (and {{.Problems}} problems in all; run scandrop check){{end}}</span>{{end}}</td></tr>
{{end}}</table>{{if .InboxMore}}<p class="meta">and {{.InboxMore}} more, not listed</p>{{end}}{{else}}<p class="none">empty</p>{{end}}
<h3>Recent results</h3>
{{if .Recent}}<table class="recent">
<tr><th>folder</th><th>status</th><th>finished</th><th>link or error</th></tr>
{{range .Recent}}<tr><td class="name folder">{{.Folder}}</td>
<td class="{{if eq .Status "success"}}ok{{else}}err{{end}}">{{.Status}}</td><td>{{when .FinishedAt}}</td>
<td>{{if .Error}}<span class="err">{{.Error}}</span>{{else if .Link}}<a href="{{.Link}}">{{.Link}}</a>{{end}}</td></tr>
{{end}}</table>{{else}}<p class="none">none yet</p>{{end}}
{{end}}{{end}}
</body>
</html>
`
