package pipeline

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// A secret file whose read hangs (a file on a hung network share) delays
// only its own client: Held answers at once for every client, and another
// refused client is still probed on its backoff.
func TestCredentialGateSlowSecretRead(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_800_000_000, 0)}
	release := make(chan struct{})
	defer close(release)
	hung := false
	slow := &checker{err: errRefused, probed: make(chan struct{}, 100)}
	other := &checker{err: errRefused, probed: make(chan struct{}, 100)}
	g := NewCredentialGate(GateOptions{Clock: clock, Logger: slog.New(slog.DiscardHandler), MinWait: 4 * time.Second, FileCheck: 2 * time.Second},
		Credentials{Label: "slow", Checker: slow, ReadSecret: func() (string, error) {
			if hung {
				<-release
			}
			return "s", nil
		}},
		Credentials{Label: "other", Checker: other})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g.Start(ctx)
	hung = true // set before Run starts: Run's reads come after
	go g.Run(ctx)
	// Advance the clock until other is probed again on its backoff,
	// asking Held at every step.
	for deadline := time.Now().Add(5 * time.Second); other.count() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("other is not probed again while slow's secret file read hangs")
		}
		clock.advance(time.Second)
		held := make(chan string, 1)
		go func() { held <- g.Held("other") }()
		select {
		case h := <-held:
			if h == "" {
				t.Fatal("other's drops go ahead while refused")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Held blocks while a secret file read hangs")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
