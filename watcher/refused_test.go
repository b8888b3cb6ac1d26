package watcher

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Entries of inbox/ that can never be drops are refused, said once each
// however many rescans pass, and shown by Inbox and Inspect.
func TestRefusedEntriesSaidOnce(t *testing.T) {
	root := t.TempDir()
	inbox := filepath.Join(root, InboxDir)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "manifest.json"), []byte("{}"), 0o644)
	os.MkdirAll(inbox, 0o755)
	if err := os.Symlink(outside, filepath.Join(inbox, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(inbox, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A socket path must be short.
	sockDir, _ := os.MkdirTemp("", "sd")
	defer os.RemoveAll(sockDir)
	ln, err := net.Listen("unix", filepath.Join(sockDir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.Rename(filepath.Join(sockDir, "s"), filepath.Join(inbox, "sock")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(inbox, "loose.txt"), []byte("x"), 0o644) // ignored, not refused

	var logs lockedBuf
	w, err := New(Options{Dir: root, Mode: ModePoll, PollInterval: 20 * time.Millisecond, Settle: 50 * time.Millisecond,
		Markers: []string{"manifest.json"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- w.Run(ctx, NewSlots(1), func(string) { t.Error("something was claimed") })
	}()
	time.Sleep(500 * time.Millisecond) // about 25 rescans
	inboxStates := w.Inbox()
	cancel()
	<-done

	for _, c := range []struct{ name, says string }{
		{"linked", "symlink"}, {"pipe", "named pipe"}, {"sock", "socket"},
	} {
		if n := strings.Count(logs.String(), "entry="+InboxDir+"/"+c.name+"\n"); n != 1 {
			t.Errorf("%s: warned %d times, want once\n%s", c.name, n, logs.String())
		}
		found := false
		for _, st := range inboxStates {
			if st.Name == c.name && st.Refused && strings.Contains(st.Reason, c.says) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: not shown as refused by Inbox: %+v", c.name, inboxStates)
		}
	}
	if !strings.Contains(logs.String(), "copy the folder in instead") {
		t.Errorf("the symlink warning does not say the fix:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "loose.txt") {
		t.Errorf("a loose file is reported:\n%s", logs.String())
	}
	st, err := Inspect(root, []string{"manifest.json"})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, s := range st {
		if s.Refused {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("Inspect: %d refused entries, want 3: %+v", refused, st)
	}
}

// An entry flipping between a folder and a symlink (or a FIFO) is warned
// about once per name within refusalQuiet, however often it flips; another
// name gets its own line, and the same name is said again after the window.
func TestRefusedFlipSaidOncePerWindow(t *testing.T) {
	root := t.TempDir()
	var logs lockedBuf
	w, err := New(Options{Dir: root, Mode: ModePoll, PollInterval: time.Second, Settle: time.Second,
		Markers: []string{"manifest.json"}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w.now = func() time.Time { return now }
	count := func(name string) int { return strings.Count(logs.String(), "entry="+InboxDir+"/"+name+"\n") }

	for i := 0; i < 6; i++ { // symlink, folder, FIFO, folder, symlink, folder...
		switch i % 4 {
		case 0:
			w.noteRefused(map[string]string{"flip": "a symlink"})
		case 2:
			w.noteRefused(map[string]string{"flip": "a named pipe"})
		default:
			w.noteRefused(map[string]string{}) // a folder: not refused
		}
		now = now.Add(2 * time.Second)
	}
	if n := count("flip"); n != 1 {
		t.Errorf("flip: warned %d times within the window, want once\n%s", n, logs.String())
	}
	w.noteRefused(map[string]string{"flip": "a symlink", "other": "a symlink"})
	if n := count("other"); n != 1 {
		t.Errorf("other: warned %d times, want once\n%s", n, logs.String())
	}
	now = now.Add(refusalQuiet)
	w.noteRefused(map[string]string{})
	w.noteRefused(map[string]string{"flip": "a symlink"})
	if n := count("flip"); n != 2 {
		t.Errorf("flip: warned %d times after the window, want twice\n%s", n, logs.String())
	}
}
