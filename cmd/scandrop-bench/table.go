//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The benchmark prints one table: a row per measurement of scandrop
// against its limit, every row a ratio measured side by side in one run.
// A scenario is a function that measures and returns its rows; adding one
// (a WAN link, an Aholo drop) is a new file with
//
//	func init() {
//		scenarios = append(scenarios, scenario{Name: "wan", Run: func(ctx context.Context, b *bench) ([]Row, any, error) { ... }})
//	}
//
// Its rows join the table in the order the scenarios run; its details (any
// JSON value) are kept in the results under its name. `-skip NAME` skips it.

// scenario is one part of the benchmark.
type scenario struct {
	Name string
	Run  func(ctx context.Context, b *bench) (rows []Row, details any, err error)
}

// scenarios run in this order, after the Realsee loopback one (realsee.go).
var scenarios []scenario

// Row is one line of the table. Rates are MiB/s of the drop; CPU is
// seconds per GiB of the drop; Read is the bytes the client read per byte
// of the drop.
type Row struct {
	Scenario string `json:"scenario"` // "realsee loopback", "realsee WAN 100 ms 200 Mbit/s", ...
	Store    string `json:"store"`    // the S3 server or link
	Size     int64  `json:"size_bytes"`
	Files    int    `json:"files,omitempty"`
	Rounds   int    `json:"rounds"`

	MiBps float64 `json:"mib_per_s"` // scandrop, median round
	// Limit is what the ratio is measured against, and its rate.
	Limit      string  `json:"limit"`
	LimitMiBps float64 `json:"limit_mib_per_s"`
	Ratio      float64 `json:"ratio"`     // median over rounds of scandrop / limit in that round
	RatioMin   float64 `json:"ratio_min"` // spread over the rounds
	RatioMax   float64 `json:"ratio_max"`
	// Others are other contenders, as scandrop's speed-up over each.
	Others []Other `json:"others,omitempty"`

	PeakRSS         int64   `json:"peak_rss_bytes,omitempty"`
	Read            float64 `json:"read_per_byte,omitempty"`       // scandrop: read(2) bytes (rchar) / drop size
	DiskRead        float64 `json:"disk_read_per_byte,omitempty"`  // scandrop: bytes fetched from the disk (read_bytes) / drop size
	LimitRead       float64 `json:"limit_read_per_byte,omitempty"` // the limit's rchar / drop size
	CPUGiB          float64 `json:"cpu_s_per_gib,omitempty"`
	ServerCPUGiB    float64 `json:"server_cpu_s_per_gib,omitempty"`
	LimitCPUGiB     float64 `json:"limit_cpu_s_per_gib,omitempty"`
	LimitServerCPUG float64 `json:"limit_server_cpu_s_per_gib,omitempty"`
	Note            string  `json:"note,omitempty"`
}

// Other is scandrop against another contender of a row.
type Other struct {
	Name    string  `json:"name"`
	MiBps   float64 `json:"mib_per_s"`
	Speedup float64 `json:"speedup"` // scandrop's rate / this one's
}

// ratioStats is the median (of an even count, the mean of the middle two),
// min and max of per-round values.
func ratioStats(r []float64) (med, lo, hi float64) {
	if len(r) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(r)
	slices.Sort(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

// rowsTable renders the one table.
func rowsTable(rows []Row) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("| scenario | store | size | scandrop MiB/s | limit | limit MiB/s | **vs limit** (min–max) | vs others | peak RSS | read/byte (disk) | limit read/byte | CPU s/GiB client / server | limit CPU s/GiB client / server |\n")
	p("|---|---|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|\n")
	f1 := func(v float64) string {
		if v == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", v)
	}
	for _, r := range rows {
		var others []string
		for _, o := range r.Others {
			others = append(others, fmt.Sprintf("%.2f× %s (%.0f MiB/s)", o.Speedup, o.Name, o.MiBps))
		}
		rss := "–"
		if r.PeakRSS > 0 {
			rss = human(r.PeakRSS)
		}
		read := "–"
		if r.Read > 0 {
			read = fmt.Sprintf("%.2f (%.2f)", r.Read, r.DiskRead)
		}
		p("| %s | %s | %s | %.0f | %s | %.0f | **%.0f%%** (%.0f–%.0f%%) | %s | %s | %s | %s | %s / %s | %s / %s |\n",
			r.Scenario, r.Store, human(r.Size), r.MiBps, r.Limit, r.LimitMiBps, 100*r.Ratio, 100*r.RatioMin, 100*r.RatioMax,
			strings.Join(others, ", "), rss, read, f1(r.LimitRead), f1(r.CPUGiB), f1(r.ServerCPUGiB), f1(r.LimitCPUGiB), f1(r.LimitServerCPUG))
	}
	for _, r := range rows {
		if r.Note != "" {
			p("\n- %s %s %s: %s", r.Scenario, r.Store, human(r.Size), r.Note)
		}
	}
	p("\n")
	return b.String()
}

// writeResults writes the whole run to out and appends its rows, one JSON
// line per run, to history.jsonl beside it: the runs of a machine over time.
func writeResults(out string, res *Results) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	jb, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, append(jb, '\n'), 0o644); err != nil {
		return err
	}
	line, _ := json.Marshal(struct {
		Date        string `json:"date"`
		GitRevision string `json:"git_revision,omitempty"`
		Command     string `json:"command"`
		File        string `json:"file"`
		Rows        []Row  `json:"rows"`
	}{res.Date.Format("2006-01-02T15:04:05Z"), res.GitRevision, res.Command, filepath.Base(out), res.Rows})
	f, err := os.OpenFile(filepath.Join(filepath.Dir(out), "history.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(line, '\n'))
	return err
}
