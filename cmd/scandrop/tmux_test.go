//go:build linux

package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/faultproxy"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

// tmuxSession is a detached tmux session on its own server (socket), so
// that nothing of the user's tmux is touched.
type tmuxSession struct {
	t    *testing.T
	sock string
}

func newTmux(t *testing.T, cols, rows int, command string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (scripts/install-test-deps installs it: apt-get install tmux)")
	}
	s := &tmuxSession{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	// A fresh server reads no ~/.tmux.conf (-f /dev/null).
	if out, err := s.cmd("-f", os.DevNull, "new-session", "-d", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), command).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.cmd("kill-server").Run() })
	return s
}

func (s *tmuxSession) cmd(args ...string) *exec.Cmd {
	return exec.Command("tmux", append([]string{"-S", s.sock}, args...)...)
}

// capture is the pane as shown, one string per row, and the same with
// the rows the terminal wrapped joined; trailing blank rows dropped. Both
// come from one tmux command, so from the same moment.
func (s *tmuxSession) capture() (rows, joined []string) {
	s.t.Helper()
	const sep = "== capture-pane -J =="
	out, err := s.cmd("capture-pane", "-p", ";", "display-message", "-p", sep, ";", "capture-pane", "-p", "-J").Output()
	if err != nil {
		s.t.Fatalf("tmux capture-pane: %v %s", err, func() []byte {
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.Stderr
			}
			return nil
		}())
	}
	a, b, ok := strings.Cut(string(out), sep+"\n")
	if !ok {
		s.t.Fatalf("tmux capture-pane: no separator in %q", out)
	}
	return paneRows(a), paneRows(b)
}

func paneRows(s string) []string {
	rows := strings.Split(strings.TrimRight(s, "\n "), "\n")
	for i := range rows {
		rows[i] = strings.TrimRight(rows[i], " ")
	}
	return rows
}

// barLine matches what the progress bar draws, whatever the stage.
var barLine = regexp.MustCompile(`^(validate|package|upload|submit|wait|finish) `)

// `scandrop process` in a real terminal: the progress bar is redrawn in
// place on one row — never two bars, never wrapped, no escape sequence
// left on screen — with the log scrolling above it, and the result is
// what stays on screen at the end. At 100 columns, and at 40, where the
// bar must be cut to the terminal's width rather than wrap.
func TestProgressBarInTmux(t *testing.T) {
	// About 7 MB: two parts of 5 MiB at most, so the bar moves.
	drop := realseeDrop(t, 6, 4096)
	for _, cols := range []int{100, 40} {
		t.Run(fmt.Sprintf("%dcols", cols), func(t *testing.T) {
			r := newRig(t, rigOptions{
				realsee: &realseetest.Options{ProcessingPolls: 25}, realseePoll: 100 * time.Millisecond,
				storeProxy: true, logLevel: "info", uploadConc: 1,
			})
			// A slow store: each part takes 1.5s, the bar stays up a while.
			r.s3Proxy.Add(faultproxy.Rule{Fault: faultproxy.Delay, For: 1500 * time.Millisecond,
				Match: func(req *http.Request) bool { return req.Method == http.MethodPut }})
			dir := filepath.Join(t.TempDir(), "nave-2026-11-20")
			writeTree(t, dir, drop)
			command := fmt.Sprintf("%s process --config %s %s; echo EXIT=$?; sleep 600", binPath, r.cfgPath, dir)
			s := newTmux(t, cols, 30, command)

			stages := map[string]bool{}
			var mid []string
			deadline := time.Now().Add(90 * time.Second)
			var final []string
			for time.Now().Before(deadline) {
				rows, joined := s.capture()
				bars := 0
				for i, row := range rows {
					if strings.ContainsAny(row, "\x1b") || strings.Contains(row, "[K") || strings.Contains(row, "^[") {
						t.Fatalf("escape sequence on screen, row %d: %q\n%s", i, row, strings.Join(rows, "\n"))
					}
					// Log lines may wrap; bar pieces appear on no row but the
					// bar's own.
					if i != len(rows)-1 && strings.ContainsAny(row, "█░") {
						t.Fatalf("a piece of a bar left on row %d: %q\n%s", i, row, strings.Join(rows, "\n"))
					}
					if barLine.MatchString(row) {
						if len([]rune(row)) >= cols {
							t.Fatalf("the bar fills the %d columns (wrapped or about to): %q\n%s", cols, row, strings.Join(rows, "\n"))
						}
						bars++
						stages[strings.Fields(row)[0]] = true
						if i != len(rows)-1 {
							t.Fatalf("a bar that is not on the last row (left behind, not redrawn in place), row %d:\n%s", i, strings.Join(rows, "\n"))
						}
						if strings.HasPrefix(row, "upload ") && strings.Contains(row, "█") {
							mid = rows // the last view of the upload bar, as full as it got
						}
					}
				}
				if last := rows[len(rows)-1]; barLine.MatchString(last) && joined[len(joined)-1] != last {
					t.Fatalf("the terminal wrapped the bar:\n%s\njoined:\n%s", strings.Join(rows, "\n"), strings.Join(joined, "\n"))
				}
				if bars > 1 {
					t.Fatalf("%d bars on screen:\n%s", bars, strings.Join(rows, "\n"))
				}
				if strings.HasPrefix(rows[len(rows)-1], "EXIT=") {
					final = joined // log lines whole, however narrow the pane
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if final == nil {
				t.Fatalf("process did not finish within 90s:\n%s", strings.Join(func() []string { r, _ := s.capture(); return r }(), "\n"))
			}
			screen := strings.Join(final, "\n")
			if final[len(final)-1] != "EXIT=0" || !strings.Contains(screen, `"status": "success"`) || !strings.Contains(screen, `"vr_url": "https://`) {
				t.Errorf("the final screen does not show the result and exit 0:\n%s", screen)
			}
			if !strings.Contains(screen, "msg=\"job succeeded\"") && !strings.Contains(screen, "msg=\"job succeeded") {
				t.Errorf("the log did not scroll above the bar:\n%s", screen)
			}
			if !stages["upload"] || !stages["wait"] || mid == nil {
				t.Errorf("the bar was seen at stages %v, filled during the upload: %v; want upload (filled) and wait", stages, mid != nil)
			}
			if cols == 100 {
				art := filepath.Join(t.TempDir(), "process-in-tmux.txt")
				text := fmt.Sprintf("scandrop process in tmux (%d columns), during the upload:\n\n%s\n\n"+
					"at the end:\n\n%s\n", cols, strings.Join(mid, "\n"), screen)
				os.WriteFile(art, []byte(text), 0o644)
				saveArtifact(t, art)
			}
		})
	}
}
