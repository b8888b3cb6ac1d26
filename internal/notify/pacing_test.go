package notify

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/testkit/fakeclock"
	"github.com/scandrop/scandrop/pipeline"
)

// TestWebhookPacing: a delivery waits under the pacer, on the injected
// clock (the test sleeps not at all): the backoff grows, and a receiver's
// Retry-After is honoured in both of its forms — seconds and an HTTP date
// (which webhooks once ignored) — bounded by the policy's ceiling.
func TestWebhookPacing(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
		case 2:
			w.Header().Set("Retry-After", clock.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
		case 3:
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	defer srv.Close()
	n := NewNotifier(config.Notify{Webhooks: []config.Webhook{
		{URL: config.Secret(srv.URL), Events: []string{"done"}, Timeout: config.Duration(5 * time.Second), Attempts: 5},
	}}, NotifierOptions{
		Logger:  slog.New(slog.DiscardHandler),
		Backoff: backoff.Policy{First: 2 * time.Second, Ceiling: 5 * time.Minute, MaxHint: 5 * time.Minute},
		Clock:   clock,
	})
	res := &pipeline.Result{Status: "success", Vendor: "realsee", Folder: "nave"}
	n.Finished("nave", res, finishedJob(t, res))
	n.Close(context.Background())

	if calls.Load() != 4 {
		t.Fatalf("%d attempts, want 4", calls.Load())
	}
	want := []time.Duration{2 * time.Second, 90 * time.Second, 5 * time.Minute}
	if w := clock.Waits(); !slices.Equal(w, want) {
		t.Errorf("waits %v, want %v (backoff, Retry-After as a date, Retry-After bounded)", w, want)
	}
}
