package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A heartbeat far in the future is not trusted (the file's mtime is judged
// instead), and an owner file that does not parse owns nothing once it is
// older than the moment a claiming daemon takes to write it: such jobs are
// orphans, resumed, and status shows them not live.
func TestOwnerFutureHeartbeatAndGarbage(t *testing.T) {
	root := t.TempDir()
	now := time.Now().Truncate(time.Second)
	clock := &fixedClock{t: now}
	p := New(Options{Clock: clock})
	proc := filepath.Join(root, Processing)
	write := func(name string, body []byte, mtime time.Time) string {
		dir := mkJob(t, proc, name)
		os.MkdirAll(filepath.Join(dir, StateDir), 0o755)
		f := filepath.Join(dir, StateDir, ownerFile)
		if err := os.WriteFile(f, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	future := func(d time.Duration) []byte {
		b, _ := json.Marshal(owner{Host: "other-host", PID: 1, Heartbeat: now.Add(d)})
		return b
	}
	deadAhead := write("dead-clock-ahead", future(24*time.Hour), now.Add(-10*time.Minute))
	liveAhead := write("live-clock-ahead", future(24*time.Hour), now.Add(-5*time.Second))
	farFuture := write("far-future-mtime", future(100*365*24*time.Hour), now.Add(100*365*24*time.Hour))
	garbageOld := write("garbage-old", []byte("not json at all"), now.Add(-time.Minute))
	garbageNew := write("garbage-being-written", []byte(`{"host":"oth`), now)

	got, err := p.Orphans(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{deadAhead, farFuture, garbageOld}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("orphans %v\nwant %v", got, want)
	}
	for dir, live := range map[string]bool{deadAhead: false, liveAhead: true, farFuture: false, garbageOld: false, garbageNew: true} {
		if o, ok := JobOwner(dir, now); !ok || o.Live != live {
			t.Errorf("JobOwner(%s) = %+v, %v; want live %v", filepath.Base(dir), o, ok, live)
		}
	}
	if err := p.own(deadAhead); err != nil {
		t.Errorf("own(dead job whose heartbeat is in the future) = %v, want taken over", err)
	}
	if err := p.own(liveAhead); err != ErrOwned {
		t.Errorf("own(live job of a host whose clock is ahead) = %v, want ErrOwned", err)
	}
}
