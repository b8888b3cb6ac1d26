//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each run writes its own results file and appends one line to
// history.jsonl: the runs before it are kept.
func TestWriteResultsKeepsHistory(t *testing.T) {
	dir := t.TempDir()
	for i, name := range []string{"a.json", "b.json"} {
		res := &Results{Date: time.Date(2026, 12, 1, 18, i, 0, 0, time.UTC), Command: "bench",
			Rows: []Row{{Scenario: "realsee loopback", Store: "minio", Size: 1 << 30, MiBps: float64(100 + i)}}}
		if err := writeResults(filepath.Join(dir, name), res); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a.json", "b.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var files []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var line struct {
			File string `json:"file"`
			Rows []Row  `json:"rows"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if len(line.Rows) != 1 {
			t.Fatalf("%s: %d rows", line.File, len(line.Rows))
		}
		files = append(files, line.File)
	}
	if strings.Join(files, ",") != "a.json,b.json" {
		t.Fatalf("history holds %v; want both runs in order", files)
	}
}

// The table has a line per row, with the ratio as the median round and
// its spread, and the other contenders as speed-ups.
func TestRowsTable(t *testing.T) {
	med, lo, hi := ratioStats([]float64{0.95, 0.80, 1.02})
	if med != 0.95 || lo != 0.80 || hi != 1.02 {
		t.Fatalf("ratioStats = %v %v %v", med, lo, hi)
	}
	out := rowsTable([]Row{
		{Scenario: "realsee loopback", Store: "minio", Size: 1 << 30, MiBps: 200, Limit: "SDK upload of the zip", LimitMiBps: 210,
			Ratio: med, RatioMin: lo, RatioMax: hi, Others: []Other{{Name: "zip+SDK", MiBps: 80, Speedup: 2.5}}, PeakRSS: 30 << 20},
		{Scenario: "realsee WAN", Store: "proxy 100 ms", Size: 1 << 30, MiBps: 23, Limit: "link", LimitMiBps: 24, Ratio: 0.96, RatioMin: 0.9, RatioMax: 1},
	})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	for _, want := range []string{"**95%** (80–102%)", "2.50× zip+SDK (80 MiB/s)", "30.0 MiB"} {
		if !strings.Contains(lines[2], want) {
			t.Errorf("row %q lacks %q", lines[2], want)
		}
	}
	if !strings.Contains(lines[3], "**96%** (90–100%)") {
		t.Errorf("row %q", lines[3])
	}
}
