package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/watcher"
)

// statusReport is `scandrop status --json`.
type statusReport struct {
	Watches []watchStatus `json:"watches"`
}

type watchStatus struct {
	Dir        string          `json:"dir"`
	Error      string          `json:"error,omitempty"`
	Processing []jobStatus     `json:"processing"`
	Inbox      []inboxStatus   `json:"inbox"`
	Recent     []finishedEntry `json:"recent"`
}

type jobStatus struct {
	Folder        string            `json:"folder"`
	Vendor        string            `json:"vendor,omitempty"`
	Stage         string            `json:"stage"`
	StageAge      string            `json:"stage_age"`
	Age           string            `json:"age"`
	UploadedBytes int64             `json:"uploaded_bytes,omitempty"`
	TotalBytes    int64             `json:"total_bytes,omitempty"`
	VendorIDs     map[string]string `json:"vendor_ids,omitempty"`
}

type inboxStatus struct {
	Folder string `json:"folder"`
	Reason string `json:"reason"`
}

type finishedEntry struct {
	Folder     string    `json:"folder"`
	Status     string    `json:"status"`
	FinishedAt time.Time `json:"finished_at"`
	Link       string    `json:"link,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// recentResults is how many done/failed results status shows per watch.
const recentResults = 10

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf commonFlags
	fs := newFlagSet("status", &cf)
	fs.BoolVar(&cf.json, "json", false, "print JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{"status takes no arguments"}
	}
	cfg, err := loadConfig(cf.config)
	if err != nil {
		return err
	}
	var rep statusReport
	for _, w := range cfg.Watches {
		rep.Watches = append(rep.Watches, watchReport(w.Dir, time.Now()))
	}
	if cf.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printStatus(stdout, rep)
	return nil
}

func watchReport(root string, now time.Time) watchStatus {
	ws := watchStatus{Dir: root, Processing: []jobStatus{}, Inbox: []inboxStatus{}, Recent: []finishedEntry{}}
	if _, err := os.Stat(root); err != nil {
		ws.Error = fmt.Sprintf("not reachable (not mounted?): %v", err)
		return ws
	}
	ents, _ := os.ReadDir(filepath.Join(root, pipeline.Processing))
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, pipeline.Processing, e.Name())
		js := jobStatus{Folder: e.Name(), Stage: "claimed"}
		if rec, err := pipeline.ReadRecord(dir); err == nil {
			js.Vendor, js.VendorIDs = rec.Vendor, rec.IDs
			if rec.Stage != "" {
				js.Stage = rec.Stage
			}
			if !rec.StageAt.IsZero() {
				js.StageAge = now.Sub(rec.StageAt).Round(time.Second).String()
			}
			if !rec.StartedAt.IsZero() {
				js.Age = now.Sub(rec.StartedAt).Round(time.Second).String()
			}
			js.UploadedBytes, js.TotalBytes = rec.UploadedBytes, rec.TotalBytes
		}
		ws.Processing = append(ws.Processing, js)
	}
	if states, err := watcher.Inspect(root, markerNames()); err == nil {
		for _, s := range states {
			ws.Inbox = append(ws.Inbox, inboxStatus{Folder: s.Name, Reason: s.Reason})
		}
	}
	for _, sub := range []string{pipeline.Done, pipeline.Failed} {
		ents, _ := os.ReadDir(filepath.Join(root, sub))
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(root, sub, e.Name(), pipeline.ResultFile))
			if err != nil {
				continue
			}
			var r pipeline.Result
			if json.Unmarshal(b, &r) != nil {
				continue
			}
			fe := finishedEntry{Folder: sub + "/" + e.Name(), Status: r.Status, FinishedAt: r.FinishedAt, Link: r.VRURL}
			if fe.Link == "" && len(r.Assets) > 0 {
				keys := make([]string, 0, len(r.Assets))
				for k := range r.Assets {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				fe.Link = r.Assets[keys[0]]
			}
			if r.Error != nil {
				fe.Error = r.Error.Stage + ": " + r.Error.Message
			}
			ws.Recent = append(ws.Recent, fe)
		}
	}
	sort.Slice(ws.Recent, func(i, j int) bool { return ws.Recent[i].FinishedAt.After(ws.Recent[j].FinishedAt) })
	if len(ws.Recent) > recentResults {
		ws.Recent = ws.Recent[:recentResults]
	}
	return ws
}

func printStatus(w io.Writer, rep statusReport) {
	for i, ws := range rep.Watches {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "watch %s\n", ws.Dir)
		if ws.Error != "" {
			fmt.Fprintf(w, "  %s\n", ws.Error)
			continue
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  processing (%d)\n", len(ws.Processing))
		for _, j := range ws.Processing {
			prog := ""
			if j.TotalBytes > 0 {
				prog = fmt.Sprintf("%d%% of %s", j.UploadedBytes*100/j.TotalBytes, humanBytes(j.TotalBytes))
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\tfor %s\t%s\t%s\n", j.Folder, j.Vendor, j.Stage, j.StageAge, prog, ids(j.VendorIDs))
		}
		fmt.Fprintf(tw, "  inbox (%d)\n", len(ws.Inbox))
		for _, in := range ws.Inbox {
			fmt.Fprintf(tw, "    %s\t%s\n", in.Folder, in.Reason)
		}
		fmt.Fprintf(tw, "  recent\n")
		for _, r := range ws.Recent {
			detail := r.Link
			if r.Error != "" {
				detail = r.Error
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", r.Folder, r.Status, r.FinishedAt.Local().Format("2006-01-02 15:04"), detail)
		}
		tw.Flush()
	}
}

func ids(m map[string]string) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
