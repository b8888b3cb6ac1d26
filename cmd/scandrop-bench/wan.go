//go:build linux

package main

// The WAN scenarios (issue 14): scandrop and its comparisons through a
// shaped link (internal/testkit/shaper) of a given round trip and rate,
// measured side by side in one run and reported as ratios to the link
// rate.
//
// Everything a contender talks to sits behind one shared link, as behind a
// site's uplink: for Realsee the fake gateway and the S3 store, for Aholo
// the fake API and OUS (HTTPS). The fake gateway's credentials are
// rewritten to point at the store's proxy, so that the uploads cross the
// link while the gateway's own read-back at submit (the vendor's work)
// does not.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/scandrop/scandrop/internal/testkit/shaper"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

var (
	wanFlag        = flag.String("wan", "100ms/200Mbit,250ms/50Mbit", "WAN links RTT/rate for the WAN scenarios, comma separated; \"\" skips them")
	wanRealseeFlag = flag.String("wan-realsee", "256MiB", "Realsee drop size sent over each WAN link")
	wanPhotosFlag  = flag.Int("wan-photos", 100, "Aholo photos (about 2 MB each) sent over each WAN link")
)

// wanRow is one contender over one link.
type wanRow struct {
	Link      string  `json:"link"`
	RTTMs     float64 `json:"rtt_ms"`
	Mbit      float64 `json:"mbit_per_s"`
	Vendor    string  `json:"vendor"`
	Contender string  `json:"contender"`
	Files     int     `json:"files"`
	Bytes     int64   `json:"bytes"`
	S         float64 `json:"s"`
	MiBps     float64 `json:"mib_per_s"`
	OfLink    float64 `json:"of_link"` // MiBps over the link's rate
	// For scandrop, S is claim → submit (validation, packaging, upload);
	// UploadS is the upload stage alone.
	UploadS      float64 `json:"upload_stage_s,omitempty"`
	UploadOfLink float64 `json:"upload_stage_of_link,omitempty"`
	Status       string  `json:"status,omitempty"`
	Skipped      string  `json:"skipped,omitempty"`
	// CPU seconds over the contender's run: its own process where it has
	// one (the daemon, rclone), this process (the proxies, the fakes and
	// the SDK and quick-start clients), versitygw.
	ClientCPUS float64 `json:"client_cpu_s,omitempty"`
	BenchCPUS  float64 `json:"bench_cpu_s"`
	StoreCPUS  float64 `json:"store_cpu_s"`
}

// meter measures the CPU this process and the store use from its start.
type meter struct {
	b            *bench
	self, server time.Duration
}

func (b *bench) meter() meter { return meter{b, selfCPU(), b.wanStore().cpu()} }

func (m meter) stamp(r *wanRow) {
	r.BenchCPUS = secs(selfCPU() - m.self)
	r.StoreCPUS = secs(m.b.wanStore().cpu() - m.server)
}

// parseLinks reads "100ms/200Mbit,250ms/50Mbit".
func parseLinks(spec string) ([]shaper.Link, []string, error) {
	var links []shaper.Link
	var labels []string
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		rtt, rate, ok := strings.Cut(s, "/")
		d, err := time.ParseDuration(rtt)
		if !ok || err != nil || d < 0 {
			return nil, nil, fmt.Errorf("-wan %q: want RTT/rate such as 100ms/200Mbit", s)
		}
		m, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToLower(rate), "mbit"), 64)
		if err != nil || m <= 0 {
			return nil, nil, fmt.Errorf("-wan %q: rate %q is not N Mbit", s, rate)
		}
		links = append(links, shaper.Link{RTT: d, Rate: shaper.MbitPerSec(m)})
		labels = append(labels, fmt.Sprintf("%v, %g Mbit/s", d, m))
	}
	return links, labels, nil
}

// runWAN runs every WAN scenario over every link of spec and returns one
// row per contender and link. cache is where the base JPEGs are kept.
func (b *bench) runWAN(ctx context.Context, spec string, realseeSize int64, photos int, cache string) ([]wanRow, error) {
	links, labels, err := parseLinks(spec)
	if err != nil || len(links) == 0 {
		return nil, err
	}
	if os.Getenv("SSL_CERT_FILE") == "" {
		ca := filepath.Join(b.tmp, "aholotest-ca.pem")
		if err := os.WriteFile(ca, aholotest.CertPEM(), 0o644); err != nil {
			return nil, err
		}
		os.Setenv("SSL_CERT_FILE", ca)
	}
	var rows []wanRow

	// The data, once for every link.
	var rsDir, rsZip string
	var rsSize int64
	var rsImages int
	if realseeSize > 0 {
		if b.panos == nil {
			if b.panos, err = baseJPEGs(cache, 4, 8192, 4096, 90, 64); err != nil {
				return nil, err
			}
		}
		rsDir = filepath.Join(b.tmp, "sets", "wan-realsee")
		defer os.RemoveAll(rsDir)
		if rsSize, rsImages, err = realseeSet(rsDir, b.panos, realseeSize); err != nil {
			return nil, err
		}
		rsZip = filepath.Join(b.tmp, "wan-realsee.zip")
		defer os.Remove(rsZip)
		if err := storeZip(rsDir, rsZip); err != nil {
			return nil, err
		}
		if err := warm(rsDir); err != nil {
			return nil, err
		}
	}
	var ahDir string
	var ahSize int64
	if photos > 0 {
		// About 2 MB each: 8 MP noise JPEGs at quality 85.
		bases, err := baseJPEGs(cache, 4, 3264, 2448, 85, 32)
		if err != nil {
			return nil, err
		}
		ahDir = filepath.Join(b.tmp, "sets", "wan-aholo")
		defer os.RemoveAll(ahDir)
		if ahSize, err = aholoSet(ahDir, bases, photos, 0); err != nil {
			return nil, err
		}
		if err := warm(ahDir); err != nil {
			return nil, err
		}
	}

	for i, link := range links {
		row := func(vendor, contender string, files int, size int64, d time.Duration) wanRow {
			r := wanRow{Link: labels[i], RTTMs: float64(link.RTT) / float64(time.Millisecond), Mbit: float64(link.Rate) * 8 / 1e6,
				Vendor: vendor, Contender: contender, Files: files, Bytes: size, S: secs(d)}
			if d > 0 {
				r.MiBps = float64(size) / mib / r.S
				r.OfLink = float64(size) / r.S / float64(link.Rate)
			}
			return r
		}
		add := func(r wanRow) {
			if r.Skipped != "" {
				b.logf("wan %s: %s %s: %s", r.Link, r.Vendor, r.Contender, r.Skipped)
			} else {
				b.logf("wan %s: %s %s: %.1fs, %.1f MiB/s, %.0f%% of the link", r.Link, r.Vendor, r.Contender, r.S, r.MiBps, 100*r.OfLink)
			}
			rows = append(rows, r)
		}
		l := shaper.NewShared(link)
		// What the shaper itself delivers on this machine now: one TCP
		// stream of three seconds' worth of bytes.
		m := b.meter()
		raw, n, err := rawStream(l, 3*link.Rate)
		if err != nil {
			return nil, fmt.Errorf("wan %s: raw stream: %w", labels[i], err)
		}
		rw := row("link", "one TCP stream (raw bytes, handshake included)", 1, n, raw)
		m.stamp(&rw)
		add(rw)
		s3p, err := l.Proxy(hostOf(b.wanStore().Endpoint))
		if err != nil {
			return nil, err
		}
		s3URL := "http://" + s3p.Addr()

		if rsDir != "" {
			m := b.meter()
			r, err := b.wanRealsee(ctx, l, s3URL, rsDir, rsSize, link)
			if err != nil {
				s3p.Close()
				return nil, fmt.Errorf("wan %s: realsee: %w", labels[i], err)
			}
			sr := row("realsee", "scandrop", rsImages, rsSize, r.d)
			sr.UploadS, sr.Status, sr.ClientCPUS = secs(r.upload), r.status, secs(r.cpu)
			if r.upload > 0 {
				sr.UploadOfLink = float64(rsSize) / sr.UploadS / float64(link.Rate)
			}
			m.stamp(&sr)
			add(sr)
			fi, _ := os.Stat(rsZip)
			m = b.meter()
			d, cpu, skipped, err := b.wanRclone(ctx, s3URL, rsZip, "wan-realsee/")
			if err != nil {
				s3p.Close()
				return nil, fmt.Errorf("wan %s: rclone: %w", labels[i], err)
			}
			rr := row("realsee", "rclone copy (the zip)", 1, fi.Size(), d)
			rr.Skipped, rr.ClientCPUS = skipped, secs(cpu)
			m.stamp(&rr)
			add(rr)
			m = b.meter()
			d, err = b.wanSDK(ctx, s3URL, rsZip)
			if err != nil {
				s3p.Close()
				return nil, fmt.Errorf("wan %s: sdk: %w", labels[i], err)
			}
			sd := row("realsee", "AWS SDK multipart (the zip)", 1, fi.Size(), d)
			m.stamp(&sd)
			add(sd)
			b.emptyBucket(ctx, b.wanStore())
		}
		if ahDir != "" {
			m := b.meter()
			run, err := b.wanAholo(ctx, l, ahDir)
			if err != nil {
				s3p.Close()
				return nil, fmt.Errorf("wan %s: aholo: %w", labels[i], err)
			}
			r := row("aholo", "scandrop", photos, ahSize, run.d)
			r.UploadS, r.Status, r.ClientCPUS = secs(run.upload), run.status, secs(run.cpu)
			if run.upload > 0 {
				r.UploadOfLink = float64(ahSize) / r.UploadS / float64(link.Rate)
			}
			m.stamp(&r)
			add(r)
			m = b.meter()
			d, err := b.wanSequential(ctx, l, ahDir)
			if err != nil {
				s3p.Close()
				return nil, fmt.Errorf("wan %s: sequential: %w", labels[i], err)
			}
			sq := row("aholo", "quickstart loop (one file after another)", photos, ahSize, d)
			m.stamp(&sq)
			add(sq)
			m = b.meter()
			d, cpu, skipped, err := b.wanRclone(ctx, s3URL, filepath.Join(ahDir, "photos"), "wan-aholo/")
			if err != nil {
				s3p.Close()
				return nil, fmt.Errorf("wan %s: rclone: %w", labels[i], err)
			}
			rr := row("aholo", "rclone copy (the photos, to S3)", photos, ahSize, d)
			rr.Skipped, rr.ClientCPUS = skipped, secs(cpu)
			m.stamp(&rr)
			add(rr)
			m = b.meter()
			d, err = b.wanPutLoop(ctx, s3URL, filepath.Join(ahDir, "photos"), 4)
			if err != nil {
				s3p.Close()
				return nil, fmt.Errorf("wan %s: sdk put loop: %w", labels[i], err)
			}
			pl := row("aholo", "AWS SDK PutObject, 4 at once (the photos, to S3)", photos, ahSize, d)
			m.stamp(&pl)
			add(pl)
			b.emptyBucket(ctx, b.wanStore())
		}
		s3p.Close()
	}
	return rows, nil
}

// rawStream sends size bytes through the link on one connection to a
// sink that answers once it has them all.
func rawStream(l *shaper.Shared, size int64) (time.Duration, int64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
		c.Write([]byte{1})
	}()
	p, err := l.Proxy(ln.Addr().String())
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	start := time.Now()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	buf := make([]byte, 256<<10)
	for left := size; left > 0; {
		n, err := c.Write(buf[:min(int64(len(buf)), left)])
		if err != nil {
			return 0, 0, err
		}
		left -= int64(n)
	}
	c.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		return 0, 0, err
	}
	return time.Since(start), size, nil
}

func hostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Host
}

type wanRun struct {
	d      time.Duration // claim → submit
	upload time.Duration // the upload stage
	status string
	cpu    time.Duration // the daemon's, from the rename to the job's end
}

// wanRealsee runs a Realsee drop through a daemon whose gateway and store
// are behind the link.
func (b *bench) wanRealsee(ctx context.Context, l *shaper.Shared, s3URL, setDir string, size int64, link shaper.Link) (wanRun, error) {
	var r wanRun
	gw := realseetest.NewServer(realseetest.Options{
		AppKey: "bench-key", AppSecret: "bench-secret",
		S3Endpoint: b.wanStore().Endpoint, Bucket: b.wanStore().Bucket, Region: b.wanStore().Region,
		AccessKey: b.wanStore().AccessKey, SecretKey: b.wanStore().SecretKey,
		ProcessingPolls: -1, CredentialsTTL: 3600,
	})
	defer gw.Close()
	direct := hostOf(b.wanStore().Endpoint)
	gws := httptest.NewServer(rewriteHost(gw, direct, hostOf(s3URL)))
	defer gws.Close()
	gwp, err := l.Proxy(hostOf(gws.URL))
	if err != nil {
		return r, err
	}
	defer gwp.Close()
	bb := *b
	bb.gwURL = "http://" + gwp.Addr()
	return bb.wanDaemon(ctx, "wan-realsee", setDir, 2*b.jobTimeout(size)+time.Duration(size/max(link.Rate, 1))*time.Second*2)
}

// rewriteHost serves h with every occurrence of from in its answers
// replaced by to: the store's address in the upload credentials becomes
// its proxy's.
func rewriteHost(h http.Handler, from, to string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := bytes.ReplaceAll(rec.Body.Bytes(), []byte(from), []byte(to))
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// wanAholo runs the photos through a daemon whose Aholo API and OUS are
// behind the link; the fake holds status polls to the service's 200 ms.
func (b *bench) wanAholo(ctx context.Context, l *shaper.Shared, setDir string) (wanRun, error) {
	f, closeFake, err := wanFake(l)
	if err != nil {
		return wanRun{}, err
	}
	defer closeFake()
	bb := *b
	bb.ah = f
	r, err := bb.wanDaemon(ctx, "wan-aholo", setDir, time.Hour)
	if err == nil && f.Throttled() > 0 {
		r.status += fmt.Sprintf(" (%d status polls refused as too frequent)", f.Throttled())
	}
	return r, err
}

// wanFake is an Aholo fake whose API and OUS are behind the link, as
// f.URL and the tokens' globalDomain.
func wanFake(l *shaper.Shared) (*aholotest.Server, func(), error) {
	f := aholotest.NewServer(aholotest.Options{AppKey: "bench-key", AppSecret: "bench-secret", AppUID: "bench-uid",
		ProcessingPolls: 1, StatusInterval: aholotest.StatusEvery})
	api, err := l.Proxy(hostOf(f.URL))
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	ous, err := l.Proxy(f.OUSDomain)
	if err != nil {
		api.Close()
		f.Close()
		return nil, nil, err
	}
	f.URL = "http://" + api.Addr() + "/v2/aholo"
	f.OUSDomain = ous.Addr()
	return f, func() { ous.Close(); api.Close(); f.Close() }, nil
}

// wanDaemon drops a copy of setDir into a fresh daemon and times claim →
// submit and the upload stage.
func (b *bench) wanDaemon(ctx context.Context, name, setDir string, within time.Duration) (wanRun, error) {
	var r wanRun
	watch := filepath.Join(b.tmp, "watch-"+name)
	defer os.RemoveAll(watch)
	d, err := b.daemonFor(watch, "auto", b.pollInterval, b.settle, "")
	if err != nil {
		return r, err
	}
	defer d.stop()
	staging := filepath.Join(watch, "staging", name)
	if err := linkTree(setDir, staging); err != nil {
		return r, err
	}
	mark := d.mark()
	cpu0, _ := cpuTime(d.pid())
	if err := os.Rename(staging, filepath.Join(watch, "inbox", name)); err != nil {
		return r, err
	}
	ev, err := d.waitEvent(mark, within, func(e logEvent) bool {
		return e.Folder == name && (e.Msg == "job succeeded" || e.Msg == "job failed")
	})
	if err != nil {
		return r, err
	}
	cpu1, _ := cpuTime(d.pid())
	r.cpu = cpu1 - cpu0
	r.status = strings.TrimPrefix(ev.Msg, "job ")
	st := stageTimes(d.eventsFor(name))
	c, up, sub := st["claimed"], st["upload"], st["submit"]
	if c.IsZero() || sub.IsZero() {
		return r, fmt.Errorf("%s: no claim or submit in the log (%s)", name, ev.Msg)
	}
	r.d = sub.Sub(c)
	if !up.IsZero() {
		r.upload = sub.Sub(up)
	}
	return r, nil
}

// wanSequential uploads the photos the way the quick start does, one
// after another, through the link.
func (b *bench) wanSequential(ctx context.Context, l *shaper.Shared, setDir string) (time.Duration, error) {
	f, closeFake, err := wanFake(l)
	if err != nil {
		return 0, err
	}
	defer closeFake()
	start := time.Now()
	if _, err := sequentialAholo(ctx, f.URL, f.Client(), setDir); err != nil {
		return 0, err
	}
	if n := f.Throttled(); n > 0 {
		return 0, fmt.Errorf("the quick start's loop had %d status polls refused", n)
	}
	return time.Since(start), nil
}

// rcloneBin is rclone from .tools/bin (go install, a pinned version) or
// else from PATH.
func rcloneBin() (string, error) {
	p := filepath.Join(".tools", "bin", "rclone")
	if _, err := os.Stat(p); err == nil {
		return filepath.Abs(p)
	}
	if p, err := exec.LookPath("rclone"); err == nil {
		return p, nil
	}
	return "", errors.New("rclone not installed (apt-get install rclone, or go install github.com/rclone/rclone into .tools/bin)")
}

// wanRclone copies src (a file or a folder) to the store through the link
// with rclone: chunk size and concurrency as scandrop's, --transfers at
// its default (4).
func (b *bench) wanRclone(ctx context.Context, s3URL, src, prefix string) (time.Duration, time.Duration, string, error) {
	bin, err := rcloneBin()
	if err != nil {
		return 0, 0, "skipped: " + err.Error(), nil
	}
	cmd := exec.CommandContext(ctx, bin, "copy", "-q", src, "bench:"+b.wanStore().Bucket+"/"+prefix,
		"--s3-chunk-size", fmt.Sprint(b.partSize/1024)+"k", "--s3-upload-concurrency", fmt.Sprint(b.concurrency))
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") && !strings.HasPrefix(e, "RCLONE_") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env,
		"RCLONE_CONFIG_BENCH_TYPE=s3",
		"RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+b.wanStore().AccessKey,
		"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+b.wanStore().SecretKey,
		"RCLONE_CONFIG_BENCH_ENDPOINT="+s3URL,
		"RCLONE_CONFIG_BENCH_REGION="+b.wanStore().Region,
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
		"RCLONE_CONFIG_BENCH_ENV_AUTH=false",
	)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, "", fmt.Errorf("%v: %s", err, out)
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), "", nil
}

// wanSDK uploads the zip as one multipart upload with the AWS SDK through
// the link (the same code as the loopback limit).
func (b *bench) wanSDK(ctx context.Context, s3URL, zipPath string) (time.Duration, error) {
	s := *b.wanStore()
	s.Endpoint = s3URL
	c, err := b.limit(ctx, &s, zipPath, "wan-sdk/bench.zip")
	if err != nil {
		return 0, err
	}
	return time.Duration(c.S * float64(time.Second)), nil
}

// wanPutLoop uploads every file of dir to the store through the link with
// the AWS SDK, one PutObject per file, n at once: what a script with the
// SDK does, and the comparison where rclone is not installed.
func (b *bench) wanPutLoop(ctx context.Context, s3URL, dir string, n int) (time.Duration, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = n
	cl := s3.New(s3.Options{
		Region: b.wanStore().Region, BaseEndpoint: aws.String(s3URL), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(b.wanStore().AccessKey, b.wanStore().SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan string)
	errs := make(chan error, n)
	fail := func(err error) { errs <- err; cancel() }
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Go(func() {
			for name := range next {
				f, err := os.Open(filepath.Join(dir, name))
				if err != nil {
					fail(err)
					return
				}
				fi, _ := f.Stat()
				_, err = cl.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.wanStore().Bucket, Key: aws.String("wan-put/" + name),
					Body: f, ContentLength: aws.Int64(fi.Size())})
				f.Close()
				if err != nil {
					fail(err)
					return
				}
			}
		})
	}
feed:
	for _, e := range entries {
		if e.Type().IsRegular() {
			select {
			case next <- e.Name():
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// wanMarkdown renders the rows as the table docs/performance.md shows.
func wanMarkdown(rows []wanRow) string {
	if len(rows) == 0 {
		return ""
	}
	var sb strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	p("**WAN** (through internal/testkit/shaper: RTT added per segment, rate shared by both hosts of each vendor; %% of the link = payload bytes / time / link rate)\n\n")
	for _, r := range rows {
		if r.Skipped != "" {
			p("%s %s %s: %s\n\n", r.Link, r.Vendor, r.Contender, r.Skipped)
		}
	}
	p("| link | vendor | contender | files | MiB | s | MiB/s | of the link | upload stage alone | CPU s: client / bench / store |\n")
	p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		if r.Skipped != "" {
			p("| %s | %s | %s | %d | %.0f | – | – | skipped | | |\n", r.Link, r.Vendor, r.Contender, r.Files, float64(r.Bytes)/mib)
			continue
		}
		stage := ""
		if r.UploadS > 0 {
			stage = fmt.Sprintf("%.1fs, %.0f%%", r.UploadS, 100*r.UploadOfLink)
		}
		name := r.Contender
		if r.Contender == "scandrop" {
			name = "**scandrop** (claim → submit)"
		}
		client := "–"
		if r.ClientCPUS > 0 {
			client = fmt.Sprintf("%.1f", r.ClientCPUS)
		}
		p("| %s | %s | %s | %d | %.0f | %.1f | %.2f | **%.0f%%** | %s | %s / %.1f / %.1f |\n", r.Link, r.Vendor, name, r.Files, float64(r.Bytes)/mib,
			r.S, r.MiBps, 100*r.OfLink, stage, client, r.BenchCPUS, r.StoreCPUS)
	}
	return sb.String()
}

// wanStore is the S3 server the WAN runs upload to: the first of -stores.
func (b *bench) wanStore() *store { return b.stores[0] }
