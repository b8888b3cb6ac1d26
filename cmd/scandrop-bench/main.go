//go:build linux

// Command scandrop-bench measures scandrop at the limit of the disk and the
// network, on this machine, in one run on the same data, and prints one
// table of ratios (table.go):
//
//   - a Realsee drop of each size through the real daemon (`scandrop run`),
//     claim → submit, against the limit: one multipart upload of the ready
//     zip with the AWS SDK, same part size, concurrency and signing, no
//     packaging; and against zip -0 -r followed by that upload; on each S3
//     server (MinIO and versitygw on loopback), rounds interleaved;
//   - the daemon's peak RSS, the bytes it reads (read(2) and from the
//     disk) and CPU per GiB of the client and the server;
//   - the scenarios other files add (scenarios, table.go);
//   - pickup latency from the last write to the claim, in notify and poll
//     mode, and the CPU cost of a rescan of an inbox of 10,000 folders;
//   - an Aholo drop (photos and a video) through scandrop against the same
//     files uploaded one after another, as the vendor's quick start does.
//
// Usage:
//
//	go run ./cmd/scandrop-bench [-sizes 100MiB,1GiB,4GiB] [-stores minio,versitygw] [-quick] [-cold] [-out bench-results/TIME.json]
//
// It needs versitygw and MinIO (`make bench` installs both); zip is
// optional (zip+SDK is skipped, and said so, without it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
)

type bench struct {
	tmp          string
	bin          string
	stores       []*store // the S3 servers, each with its fake Realsee gateway
	gwURL        string   // the Realsee gateway the next daemon is configured with
	ah           *aholotest.Server
	panos        [][]byte
	photos       [][]byte
	partSize     int64
	concurrency  int
	settle       time.Duration
	pollInterval time.Duration
	runs         int
	cold         bool // evict the drop and the zip from the page cache before each run
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// pathTimes sums the time the fake gateway spends per path, so that the
// fake's own work (reading the whole zip back at submit) is not counted
// as scandrop's.
type pathTimes struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

func (p *pathTimes) reset() {
	p.mu.Lock()
	p.d = map[string]time.Duration{}
	p.mu.Unlock()
}

func (p *pathTimes) total(path string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.d[path]
}

func (p *pathTimes) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		p.mu.Lock()
		if p.d == nil {
			p.d = map[string]time.Duration{}
		}
		p.d[r.URL.Path] += time.Since(start)
		p.mu.Unlock()
	})
}

// Results is the JSON written with -out.
type Results struct {
	Date        time.Time        `json:"date"`
	Machine     machine          `json:"machine"`
	Settings    settings         `json:"settings"`
	Rows        []Row            `json:"rows"` // the table
	Realsee     []*realseeResult `json:"realsee"`
	Details     map[string]any   `json:"details,omitempty"` // by scenario
	Pickup      []pickupResult   `json:"pickup"`
	Rescan      *rescanResult    `json:"rescan,omitempty"`
	Aholo       *aholoResult     `json:"aholo,omitempty"`
	WAN         []wanRow         `json:"wan,omitempty"`
	Notes       []string         `json:"notes,omitempty"`
	Command     string           `json:"command"`
	GitRevision string           `json:"git_revision,omitempty"`
}

type machine struct {
	CPUs      int    `json:"cpus"`
	CPU       string `json:"cpu"`
	MemTotal  string `json:"mem_total"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	TmpFS     string `json:"tmp_fs"`
}

type settings struct {
	PartSize     int64   `json:"part_size"`
	Concurrency  int     `json:"upload_concurrency"`
	SettleS      float64 `json:"settle_s"`
	PollInterval float64 `json:"poll_interval_s"`
}

func main() {
	sizesFlag := flag.String("sizes", "100MiB,1GiB,4GiB", "Realsee drop sizes, comma separated")
	quick := flag.Bool("quick", false, "100 MiB only, and a smaller Aholo drop and rescan")
	out := flag.String("out", "", "JSON results file (default bench-results/<date>.json)")
	partSize := flag.String("part-size", "16MiB", "realsee.part_size for scandrop, the limit and rclone")
	conc := flag.Int("concurrency", 4, "realsee.upload_concurrency for scandrop, the limit and rclone")
	settle := flag.Duration("settle", time.Second, "watch settle")
	poll := flag.Duration("poll-interval", 500*time.Millisecond, "watch poll_interval for the upload runs")
	tmpFlag := flag.String("tmp", os.TempDir(), "where data sets, zips and the S3 store go")
	cache := flag.String("cache", "", "where the generated base JPEGs are kept between runs (default <user cache>/scandrop-bench)")
	skip := flag.String("skip", "", "parts to skip: realsee,pickup,rescan,aholo,wan or a scenario's name")
	cold := flag.Bool("cold", false, "Realsee runs start with the drop and the zip out of the page cache (read from the disk)")
	storesFlag := flag.String("stores", "minio,versitygw", "S3 servers for the Realsee runs (minio: $SCANDROP_MINIO or .tools/bin/minio)")
	binFlag := flag.String("scandrop-bin", "", "use this scandrop binary instead of building ./cmd/scandrop (A/B comparisons)")
	runs := flag.Int("runs", 4, "rounds per size (even: each order of limit and scandrop as often; the median and the spread are shown)")
	photos := flag.Int("aholo-photos", 500, "photos in the Aholo drop")
	video := flag.String("aholo-video", "1GiB", "size of the Aholo drop's video")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	coldRuns = *cold
	if err := run(ctx, *sizesFlag, *quick, *out, *partSize, *conc, *settle, *poll, *tmpFlag, *cache, *skip, *photos, *video, *runs, *binFlag, *storesFlag); err != nil {
		fmt.Fprintln(os.Stderr, "scandrop-bench:", err)
		os.Exit(1)
	}
}

// coldRuns is -cold.
var coldRuns bool

func run(ctx context.Context, sizesFlag string, quick bool, out, partSize string, conc int, settle, poll time.Duration,
	tmpRoot, cache, skipFlag string, photos int, video string, runs int, binFlag, storesFlag string) (err error) {
	if quick {
		sizesFlag = "100MiB"
		photos = min(photos, 100)
		video = "100MiB"
	}
	var labels []string
	var sizes []int64
	for _, s := range strings.Split(sizesFlag, ",") {
		s = strings.TrimSpace(s)
		n, err := parseSize(s)
		if err != nil {
			return err
		}
		labels, sizes = append(labels, s), append(sizes, n)
	}
	ps, err := parseSize(partSize)
	if err != nil {
		return err
	}
	videoSize, err := parseSize(video)
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	for _, s := range strings.Split(skipFlag, ",") {
		skip[strings.TrimSpace(s)] = true
	}
	if out == "" {
		out = filepath.Join("bench-results", time.Now().UTC().Format("2006-01-02T150405Z")+".json")
	}
	if cache == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			c = os.TempDir()
		}
		cache = filepath.Join(c, "scandrop-bench")
	}

	tmp, err := os.MkdirTemp(tmpRoot, "scandrop-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// The daemons' logs are kept only when something went wrong.
	logDir := tmp + "-logs"
	defer func() {
		if err == nil {
			os.RemoveAll(logDir)
		} else if _, serr := os.Stat(logDir); serr == nil {
			fmt.Fprintf(os.Stderr, "daemon logs are in %s\n", logDir)
		}
	}()
	b := &bench{tmp: tmp, partSize: ps, concurrency: conc, settle: settle, pollInterval: poll, runs: max(runs, 1), cold: coldRuns}

	if binFlag != "" {
		b.bin = binFlag
	} else {
		b.logf("building scandrop")
		b.bin = filepath.Join(tmp, "scandrop")
		if o, err := exec.Command("go", "build", "-o", b.bin, "./cmd/scandrop").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/scandrop: %v\n%s", err, o)
		}
	}
	res := &Results{Date: time.Now().UTC(), Machine: describeMachine(tmp), Command: strings.Join(os.Args, " "),
		Settings: settings{PartSize: ps, Concurrency: conc, SettleS: settle.Seconds(), PollInterval: poll.Seconds()},
		Details:  map[string]any{}}
	for _, name := range strings.Split(storesFlag, ",") {
		var st *store
		var err error
		switch name = strings.TrimSpace(name); name {
		case "versitygw":
			b.logf("starting versitygw")
			st, err = startVersityGW(filepath.Join(tmp, "s3-versitygw"))
		case "minio":
			b.logf("starting minio")
			st, err = startMinIO(ctx, filepath.Join(tmp, "s3-minio"))
		case "":
			continue
		default:
			return fmt.Errorf("-stores: unknown store %q (minio, versitygw)", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer st.Close()
		b.stores = append(b.stores, st)
	}
	if len(b.stores) == 0 {
		return errors.New("-stores names no store")
	}
	b.gwURL = b.stores[0].gwURL
	b.ah = aholotest.NewServer(aholotest.Options{AppKey: "bench-key", AppSecret: "bench-secret", AppUID: "bench-uid", ProcessingPolls: 1})
	defer b.ah.Close()
	// The daemons trust the fake's upload service (HTTPS, as in
	// production) as an operator would a private CA.
	ca := filepath.Join(tmp, "aholotest-ca.pem")
	if err := os.WriteFile(ca, aholotest.CertPEM(), 0o644); err != nil {
		return err
	}
	os.Setenv("SSL_CERT_FILE", ca)

	if rev, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		res.GitRevision = strings.TrimSpace(string(rev))
		if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
			res.GitRevision += "+dirty"
		}
	}

	if !skip["realsee"] {
		b.logf("making the base panoramas (cached in %s)", cache)
		b.panos, err = baseJPEGs(cache, 4, 8192, 4096, 90, 64)
		if err != nil {
			return err
		}
		for i, size := range sizes {
			if err := ctx.Err(); err != nil {
				return err
			}
			if free := freeBytes(tmp); free < 3*size+size/2+(1<<30) {
				note := fmt.Sprintf("%s skipped: %s free in %s, a run needs about 3.5× the size (data set, zip, store, the fake's read-back)",
					labels[i], human(free), tmpRoot)
				b.logf("%s", note)
				res.Notes = append(res.Notes, note)
				continue
			}
			r, rows, err := b.runRealsee(ctx, labels[i], size)
			if err != nil {
				return fmt.Errorf("%s: %w", labels[i], err)
			}
			res.Realsee = append(res.Realsee, r)
			res.Rows = append(res.Rows, rows...)
		}
	}
	for _, sc := range scenarios {
		if skip[sc.Name] {
			continue
		}
		b.logf("scenario %s", sc.Name)
		rows, details, err := sc.Run(ctx, b)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		res.Rows = append(res.Rows, rows...)
		if details != nil {
			res.Details[sc.Name] = details
		}
	}
	if !skip["pickup"] {
		for _, mode := range []string{"notify", "poll"} {
			p, err := b.pickup(ctx, mode)
			if err != nil {
				return fmt.Errorf("pickup %s: %w", mode, err)
			}
			res.Pickup = append(res.Pickup, p)
		}
	}
	if !skip["rescan"] {
		n := 10000
		res.Rescan, err = b.rescan(ctx, n)
		if err != nil {
			return fmt.Errorf("rescan: %w", err)
		}
	}
	if !skip["aholo"] {
		b.photos, err = baseJPEGs(cache, 4, 4000, 3000, 85, 32)
		if err != nil {
			return err
		}
		res.Aholo, err = b.runAholo(ctx, photos, videoSize)
		if err != nil {
			return fmt.Errorf("aholo: %w", err)
		}
	}

	if !skip["wan"] && *wanFlag != "" {
		rs, err := parseSize(*wanRealseeFlag)
		if err != nil {
			return err
		}
		wanPhotos := *wanPhotosFlag
		if quick {
			rs, wanPhotos = min(rs, 64<<20), min(wanPhotos, 30)
		}
		if res.WAN, err = b.runWAN(ctx, *wanFlag, rs, wanPhotos, cache); err != nil {
			return err
		}
	}

	fmt.Println(markdown(res) + wanMarkdown(res.WAN))
	if err := writeResults(out, res); err != nil {
		return err
	}
	b.logf("results written to %s", out)
	return nil
}

// daemonFor writes a config for one watch folder and starts the daemon on
// it; it returns once the daemon says it is running.
func (b *bench) daemonFor(watch, mode string, poll, settle time.Duration, extra string) (*daemon, error) {
	if err := os.MkdirAll(filepath.Join(watch, "inbox"), 0o755); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`watches:
  - dir: %s
    mode: %s
    poll_interval: %s
    settle: %s
max_jobs: 2
log:
  level: debug
realsee:
  endpoint: %s
  app_key: bench-key
  app_secret: bench-secret
  poll_interval: 100ms
  timeout: 1h
  part_size: %d
  upload_concurrency: %d
aholo:
  endpoint: %s
  app_key: bench-key
  app_secret: bench-secret
  appuid: bench-uid
  poll_interval: 100ms
  timeout: 1h
%s`, filepath.Join(watch), mode, poll, settle, b.gwURL, b.partSize, b.concurrency, b.ah.URL, extra)
	cfgPath := filepath.Join(filepath.Dir(watch), filepath.Base(watch)+".yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logDir := b.tmp + "-logs"
	os.MkdirAll(logDir, 0o755)
	d, err := startDaemon(b.bin, cfgPath, filepath.Join(logDir, filepath.Base(watch)+".log"))
	if err != nil {
		return nil, err
	}
	if _, err := d.waitEvent(0, 30*time.Second, func(e logEvent) bool { return e.Msg == "scandrop running" }); err != nil {
		d.stop()
		return nil, err
	}
	return d, nil
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suf  string
		mult int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suf); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil {
				return 0, fmt.Errorf("size %q: %v", s, err)
			}
			return int64(f * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("size " + strconv.Quote(s) + ": want a number with KiB, MiB or GiB")
	}
	return n, nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

func freeBytes(dir string) int64 {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return 1 << 62
	}
	return int64(st.Bavail) * st.Bsize
}

func describeMachine(tmp string) machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if _, v, ok := strings.Cut(line, ":"); ok {
			m.MemTotal = strings.TrimSpace(v)
		}
	}
	if o, err := exec.Command("uname", "-r").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(o))
	}
	if o, err := exec.Command("df", "-hT", tmp).Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(o)), "\n")
		f := strings.Fields(lines[len(lines)-1])
		if len(f) >= 2 {
			m.TmpFS = f[0] + " (" + f[1] + ")"
		}
	}
	return m
}
