//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat; 100
// on every Linux this runs on.
const clockTicks = 100

// cpuTime is a process's user+system CPU time so far, children excluded.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// memStatus reads VmHWM (peak RSS) and VmRSS from /proc/PID/status, in bytes.
func memStatus(pid int) (hwm, rss int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmHWM":
			hwm = n << 10
		case "VmRSS":
			rss = n << 10
		}
	}
	return hwm, rss, nil
}

// logEvent is one line of the daemon's JSON log.
type logEvent struct {
	Time   time.Time
	Msg    string
	Folder string
	Stage  string
	Raw    map[string]any
}

// daemon is a running `scandrop run` process and what it has logged.
type daemon struct {
	cmd     *exec.Cmd
	logPath string

	mu      sync.Mutex
	events  []logEvent
	changed chan struct{} // closed and replaced on every new event
	done    chan struct{}

	peakMu  sync.Mutex
	peakRSS int64 // highest VmHWM seen by sampling
	stopS   chan struct{}
}

// startDaemon runs bin with `run --config cfg --log-format json`, its log
// parsed as it comes and copied to logPath.
func startDaemon(bin, cfg, logPath string) (*daemon, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--config", cfg, "--log-format", "json")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	d := &daemon{cmd: cmd, logPath: logPath, changed: make(chan struct{}), done: make(chan struct{}), stopS: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	go func() {
		cmd.Wait()
		pw.Close()
	}()
	go func() {
		defer close(d.done)
		defer lf.Close()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			lf.Write(append(bytes.Clone(line), '\n'))
			var m map[string]any
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			ev := logEvent{Raw: m}
			ev.Msg, _ = m["msg"].(string)
			ev.Folder, _ = m["folder"].(string)
			ev.Stage, _ = m["stage"].(string)
			if ts, ok := m["time"].(string); ok {
				ev.Time, _ = time.Parse(time.RFC3339Nano, ts)
			}
			d.mu.Lock()
			d.events = append(d.events, ev)
			close(d.changed)
			d.changed = make(chan struct{})
			d.mu.Unlock()
		}
	}()
	go d.sampleRSS()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// sampleRSS keeps the highest VmHWM seen, so that the peak is known even
// if the process is gone before it is asked.
func (d *daemon) sampleRSS() {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-d.stopS:
			return
		case <-d.done:
			return
		case <-t.C:
			if hwm, _, err := memStatus(d.pid()); err == nil {
				d.peakMu.Lock()
				d.peakRSS = max(d.peakRSS, hwm)
				d.peakMu.Unlock()
			}
		}
	}
}

// peak is the daemon's peak RSS so far (VmHWM).
func (d *daemon) peak() int64 {
	hwm, _, _ := memStatus(d.pid())
	d.peakMu.Lock()
	defer d.peakMu.Unlock()
	return max(d.peakRSS, hwm)
}

// waitEvent waits for the first event at or after index from that matches.
func (d *daemon) waitEvent(from int, within time.Duration, match func(logEvent) bool) (logEvent, error) {
	deadline := time.After(within)
	for i := from; ; {
		d.mu.Lock()
		for ; i < len(d.events); i++ {
			if match(d.events[i]) {
				ev := d.events[i]
				d.mu.Unlock()
				return ev, nil
			}
		}
		ch := d.changed
		d.mu.Unlock()
		select {
		case <-ch:
		case <-d.done:
			return logEvent{}, fmt.Errorf("the daemon exited; see %s", d.logPath)
		case <-deadline:
			return logEvent{}, fmt.Errorf("timed out after %s; see %s", within, d.logPath)
		}
	}
}

// mark is the index of the next event, for waitEvent.
func (d *daemon) mark() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.events)
}

// eventsFor lists the events of one folder.
func (d *daemon) eventsFor(folder string) []logEvent {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []logEvent
	for _, e := range d.events {
		if e.Folder == folder {
			out = append(out, e)
		}
	}
	return out
}

// stop ends the daemon with SIGTERM, as a service manager would.
func (d *daemon) stop() {
	close(d.stopS)
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// stageTimes are when each pipeline stage of a folder began, from the log.
func stageTimes(evs []logEvent) map[string]time.Time {
	out := map[string]time.Time{}
	for _, e := range evs {
		switch {
		case e.Msg == "claimed folder":
			out["claimed"] = e.Time
		case e.Msg == "stage" && e.Stage != "":
			if _, ok := out[e.Stage]; !ok {
				out[e.Stage] = e.Time
			}
		case e.Msg == "job succeeded" || e.Msg == "job failed":
			out["end"] = e.Time
		}
	}
	return out
}

// waitFile waits for path to exist.
func waitFile(path string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s did not appear within %s", filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), within)
}

// ioCounters reads rchar (bytes returned by read(2) and the like, page
// cache hits and sockets included) and read_bytes (bytes fetched from the
// storage layer) from /proc/PID/io.
func ioCounters(pid int) (rchar, readBytes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "rchar":
			rchar = n
		case "read_bytes":
			readBytes = n
		}
	}
	return rchar, readBytes, nil
}
