package ops

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
)

// Monitor is a pipeline.Observer that keeps what the running jobs report —
// for live status — and counts it, for /metrics. It is safe for concurrent
// use, and its methods only take a lock: they never block a job.
//
// Jobs are known by folder name, as the pipeline reports them; two watches
// running folders of one name at once would share an entry.
type Monitor struct {
	now     func() time.Time
	started time.Time
	build   map[string]string

	mu       sync.Mutex
	jobs     map[string]*liveJob
	stages   map[[2]string]*histogram // vendor, stage
	uploaded map[string]int64         // by vendor
	retries  map[[2]string]int64      // vendor, stage
	errs     map[[3]string]int64      // vendor, stage, kind
	finished map[[3]string]int64      // vendor, status, account ("" for the default)
	notes    map[[2]string]int64      // channel, outcome
	scans    map[[2]string]*histogram // watch, kind (full, events)
}

type liveJob struct {
	vendor, stage string
	since         time.Time
	uploaded      int64 // last progress report, to count bytes once
	total         int64
	vendorStatus  string
	retrying      string
}

// StageBuckets are the upper bounds, in seconds, of the stage duration
// histogram: stages take from a second (validate) to hours (wait).
var StageBuckets = []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600}

type histogram struct {
	counts []int64 // per bucket, not cumulative
	sum    float64
	n      int64
}

// NewMonitor returns a Monitor. build labels scandrop_build_info (version,
// commit, ...); now is the clock, nil for time.Now.
func NewMonitor(build map[string]string, now func() time.Time) *Monitor {
	if now == nil {
		now = time.Now
	}
	return &Monitor{
		now: now, started: now(), build: build,
		jobs: map[string]*liveJob{}, stages: map[[2]string]*histogram{},
		uploaded: map[string]int64{}, retries: map[[2]string]int64{},
		errs: map[[3]string]int64{}, finished: map[[3]string]int64{},
		notes: map[[2]string]int64{}, scans: map[[2]string]*histogram{},
	}
}

// ScanBuckets are the upper bounds, in seconds, of the inbox scan
// histogram: a scan of a few folders takes microseconds, one of ten
// thousand on a network share may take seconds.
var ScanBuckets = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}

// Scanned records how long a scan of a watch's inbox took; full is a
// periodic rescan, otherwise a scan after file events.
func (m *Monitor) Scanned(watch string, full bool, took time.Duration) {
	kind := "events"
	if full {
		kind = "full"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{watch, kind}
	h := m.scans[k]
	if h == nil {
		h = &histogram{counts: make([]int64, len(ScanBuckets))}
		m.scans[k] = h
	}
	h.observe(ScanBuckets, took.Seconds())
}

func (h *histogram) observe(buckets []float64, v float64) {
	for i, ub := range buckets {
		if v <= ub {
			h.counts[i]++
			break
		}
	}
	h.sum += v
	h.n++
}

var _ pipeline.Observer = (*Monitor)(nil)

func (m *Monitor) job(folder, vendor string) *liveJob {
	j := m.jobs[folder]
	if j == nil {
		j = &liveJob{}
		m.jobs[folder] = j
	}
	if vendor != "" {
		j.vendor = vendor
	}
	return j
}

// Stage implements pipeline.Observer.
func (m *Monitor) Stage(folder, vendor, stage string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.job(folder, vendor)
	if j.stage != stage {
		j.stage, j.since = stage, m.now()
	}
	j.retrying = ""
}

// StageDone implements pipeline.Observer.
func (m *Monitor) StageDone(folder, vendor, stage string, d time.Duration, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{vendor, stage}
	h := m.stages[k]
	if h == nil {
		h = &histogram{counts: make([]int64, len(StageBuckets))}
		m.stages[k] = h
	}
	h.observe(StageBuckets, d.Seconds())
}

// VendorStatus implements pipeline.Observer.
func (m *Monitor) VendorStatus(folder, vendor, status string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.job(folder, vendor)
	j.vendorStatus, j.retrying = status, ""
}

// Uploaded implements pipeline.Observer.
func (m *Monitor) Uploaded(folder, vendor string, done, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.job(folder, vendor)
	if done > j.uploaded {
		m.uploaded[j.vendor] += done - j.uploaded
	}
	// A retried or resumed upload may start again from less.
	j.uploaded, j.total = done, total
}

// Retrying implements pipeline.Observer.
func (m *Monitor) Retrying(folder, vendor, stage, kind string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.job(folder, vendor)
	m.retries[[2]string{vendor, stage}]++
	m.errs[[3]string{vendor, stage, kind}]++
	if err != nil {
		j.retrying = kind + ": " + textsafe.Redact(err.Error()) // a vendor may echo a secret
	}
}

// Finished implements pipeline.Observer.
func (m *Monitor) Finished(folder string, res *pipeline.Result, path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.jobs, folder)
	m.finished[[3]string{res.Vendor, res.Status, res.Account}]++
	if e := res.Error; e != nil && e.Kind != "invalid" && e.Kind != "config" {
		m.errs[[3]string{res.Vendor, e.Stage, e.Kind}]++
	}
}

// Forget drops a job that ended without finishing (the daemon stopped, or
// another daemon owns it): it is no longer running here.
func (m *Monitor) Forget(folder string) {
	m.mu.Lock()
	delete(m.jobs, folder)
	m.mu.Unlock()
}

// Notified counts a notification: channel "webhook" or "command", outcome
// "delivered" or "failed".
func (m *Monitor) Notified(channel, outcome string) {
	m.mu.Lock()
	m.notes[[2]string{channel, outcome}]++
	m.mu.Unlock()
}

// overlay puts what the job reported live over what its journal says.
func (m *Monitor) overlay(js *Job) {
	m.mu.Lock()
	defer m.mu.Unlock()
	j := m.jobs[js.Folder]
	if j == nil {
		return
	}
	if j.vendor != "" {
		js.Vendor = j.vendor
	}
	if j.stage != "" && j.stage != js.Stage {
		js.Stage, js.StageSince = j.stage, j.since.UTC()
	}
	if j.total > 0 {
		js.UploadedBytes, js.TotalBytes = j.uploaded, j.total
	}
	js.VendorStatus = j.vendorStatus
	if j.retrying != "" { // else the journal's word (a retry is recorded there too)
		js.Retrying = j.retrying
	}
}

// WriteMetrics writes every metric in the Prometheus text exposition
// format (version 0.0.4). roots are the watch folders, whose folders are
// counted by state as the metric is read.
func (m *Monitor) WriteMetrics(w io.Writer, roots []string) error {
	var b strings.Builder
	head := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}

	head("scandrop_build_info", "gauge", "Version of the running scandrop; always 1.")
	b.WriteString("scandrop_build_info" + labels(sortedPairs(m.build)...) + " 1\n")
	head("scandrop_start_time_seconds", "gauge", "When scandrop started, in seconds since the epoch.")
	fmt.Fprintf(&b, "scandrop_start_time_seconds %s\n", num(float64(m.started.UnixMilli())/1000))

	head("scandrop_folders", "gauge", "Folders in each state (inbox, processing, done, failed) of each watch, counted when scraped; -1 when the watch cannot be read.")
	for _, root := range roots {
		for _, st := range []string{pipeline.Inbox, pipeline.Processing, pipeline.Done, pipeline.Failed} {
			n := countFolders(filepath.Join(root, st))
			fmt.Fprintf(&b, "scandrop_folders%s %d\n", labels("watch", root, "state", st), n)
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()

	head("scandrop_jobs_running", "gauge", "Jobs running in this process, by vendor and stage.")
	running := map[[2]string]int{}
	for _, j := range m.jobs {
		if j.stage != "" {
			running[[2]string{j.vendor, j.stage}]++
		}
	}
	for _, k := range sortedKeys(running) {
		fmt.Fprintf(&b, "scandrop_jobs_running%s %d\n", labels("vendor", k[0], "stage", k[1]), running[k])
	}

	head("scandrop_jobs_finished_total", "counter", "Jobs finished (moved to done/ or failed/), by vendor, status (success, failed) and, for jobs of a named account (config accounts:), account.")
	for _, k := range sortedKeys(m.finished) {
		// The default account's series keep the labels they always had.
		l := labels("vendor", k[0], "status", k[1])
		if k[2] != "" {
			l = labels("vendor", k[0], "status", k[1], "account", k[2])
		}
		fmt.Fprintf(&b, "scandrop_jobs_finished_total%s %d\n", l, m.finished[k])
	}

	head("scandrop_stage_duration_seconds", "histogram", "How long job stages took, retries included, by vendor and stage.")
	for _, k := range sortedKeys(m.stages) {
		writeHistogram(&b, "scandrop_stage_duration_seconds", StageBuckets, m.stages[k], "vendor", k[0], "stage", k[1])
	}

	head("scandrop_uploaded_bytes_total", "counter", "Bytes uploaded to the vendors' storage, by vendor.")
	for _, k := range sortedKeys(m.uploaded) {
		fmt.Fprintf(&b, "scandrop_uploaded_bytes_total%s %d\n", labels("vendor", k), m.uploaded[k])
	}

	head("scandrop_retries_total", "counter", "Transient errors retried with backoff, by vendor and stage.")
	for _, k := range sortedKeys(m.retries) {
		fmt.Fprintf(&b, "scandrop_retries_total%s %d\n", labels("vendor", k[0], "stage", k[1]), m.retries[k])
	}

	head("scandrop_vendor_errors_total", "counter", "Errors from vendors and the network, by vendor, stage and kind: each retried one, and each that failed a job (invalid drops and configuration errors excluded).")
	for _, k := range sortedKeys(m.errs) {
		fmt.Fprintf(&b, "scandrop_vendor_errors_total%s %d\n", labels("vendor", k[0], "stage", k[1], "kind", k[2]), m.errs[k])
	}

	head("scandrop_notifications_total", "counter", "Notifications of finished jobs, by channel (webhook, command) and outcome (delivered, failed).")
	for _, k := range sortedKeys(m.notes) {
		fmt.Fprintf(&b, "scandrop_notifications_total%s %d\n", labels("channel", k[0], "outcome", k[1]), m.notes[k])
	}

	head("scandrop_scan_duration_seconds", "histogram", "How long scans of inbox/ took, by watch and kind (full: the periodic rescan; events: after file events).")
	for _, k := range sortedKeys(m.scans) {
		writeHistogram(&b, "scandrop_scan_duration_seconds", ScanBuckets, m.scans[k], "watch", k[0], "kind", k[1])
	}

	_, err := io.WriteString(w, b.String())
	return err
}

// writeHistogram writes one labelled series of a histogram: cumulative
// buckets, +Inf, sum and count.
func writeHistogram(b *strings.Builder, name string, buckets []float64, h *histogram, kv ...string) {
	var cum int64
	for i, ub := range buckets {
		cum += h.counts[i]
		fmt.Fprintf(b, "%s_bucket%s %d\n", name, labels(append(kv, "le", num(ub))...), cum)
	}
	fmt.Fprintf(b, "%s_bucket%s %d\n", name, labels(append(kv, "le", "+Inf")...), h.n)
	fmt.Fprintf(b, "%s_sum%s %s\n", name, labels(kv...), num(h.sum))
	fmt.Fprintf(b, "%s_count%s %d\n", name, labels(kv...), h.n)
}

// countFolders counts the job folders in dir, or -1 if it cannot be read.
func countFolders(dir string) int {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// labels renders {k="v",...}, escaping values as the format requires.
func labels(kv ...string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[i])
		b.WriteString(`="`)
		b.WriteString(labelEscaper.Replace(kv[i+1]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func num(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func sortedPairs(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, k, m[k])
	}
	return out
}

type labelKey interface {
	~string | ~[2]string | ~[3]string
}

func sortedKeys[K labelKey, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b K) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	return keys
}

// BuildInfo is the labels of scandrop_build_info.
func BuildInfo(version, commit string) map[string]string {
	return map[string]string{"version": version, "commit": commit, "goversion": runtime.Version()}
}
