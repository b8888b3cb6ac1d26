//go:build linux

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// scandropRun is one drop through the real daemon.
type scandropRun struct {
	RawS          float64            `json:"raw_s"`           // rename into inbox/ → result.json
	MinusSettleS  float64            `json:"minus_settle_s"`  // raw − settle
	GatewayCheckS float64            `json:"gateway_check_s"` // the fake gateway reading the zip back at submit
	NetS          float64            `json:"net_s"`           // minus settle and gateway check: scandrop's own time
	MiBps         float64            `json:"mib_per_s"`       // size / net
	UploadMiBps   float64            `json:"upload_mib_per_s"`
	PeakRSS       int64              `json:"peak_rss_bytes"`
	CPUS          float64            `json:"cpu_s"`        // daemon utime+stime over the job
	ServerCPUS    float64            `json:"server_cpu_s"` // versitygw utime+stime over the job
	Stages        map[string]float64 `json:"stages_s"`     // from claim: seconds at which each stage began
	Status        string             `json:"status"`
}

// contender is a baseline or the limit.
type contender struct {
	S          float64 `json:"s"`
	MiBps      float64 `json:"mib_per_s"`
	CPUS       float64 `json:"cpu_s"`
	ServerCPUS float64 `json:"server_cpu_s"`
	Skipped    string  `json:"skipped,omitempty"`
	ZipS       float64 `json:"zip_s,omitempty"`
	UploadS    float64 `json:"upload_s,omitempty"`
}

type realseeResult struct {
	Label         string      `json:"label"`
	Size          int64       `json:"size_bytes"`
	Images        int         `json:"images"`
	Scandrop      scandropRun `json:"scandrop"`
	Limit         contender   `json:"limit"`
	Baseline      contender   `json:"baseline"`
	RatioLimit    float64     `json:"ratio_to_limit"`
	RatioBaseline float64     `json:"ratio_to_baseline,omitempty"`
	Rounds        []sample    `json:"rounds"`
}

type sample struct {
	// LoadAvg is /proc/loadavg at the start of the round: other work on
	// the machine (two cores here) shows in every number.
	LoadAvg  string      `json:"loadavg"`
	Scandrop scandropRun `json:"scandrop"`
	Limit    contender   `json:"limit"`
	Baseline contender   `json:"baseline"`
}

// median is the round with the median value of f (the lower one of two).
func median(rounds []sample, f func(sample) float64) sample {
	s := slices.Clone(rounds)
	slices.SortFunc(s, func(a, b sample) int { return cmp.Compare(f(a), f(b)) })
	return s[(len(s)-1)/2]
}

// quiesce writes back what earlier runs left dirty in the page cache, so
// that no run pays for the one before it.
func (b *bench) quiesce() {
	syscall.Sync()
	time.Sleep(time.Second)
}

const mib = 1 << 20

func secs(d time.Duration) float64 { return d.Seconds() }

// selfCPU is this process's CPU time, for the in-process limit upload.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (b *bench) serverCPU() time.Duration {
	d, _ := cpuTime(b.s3.Cmd.Process.Pid)
	return d
}

// runRealsee measures one size: zip+rclone, the limit, scandrop.
func (b *bench) runRealsee(ctx context.Context, label string, size int64) (*realseeResult, error) {
	res := &realseeResult{Label: label}
	setDir := filepath.Join(b.tmp, "sets", "nave-"+label)
	b.logf("%s: writing the data set", label)
	total, n, err := realseeSet(setDir, b.panos, size)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(setDir)
	res.Size, res.Images = total, n
	if err := warm(setDir); err != nil {
		return nil, err
	}

	// The zip the baseline makes is also what the limit uploads. Each
	// round runs the three one after another on the same data; the table
	// shows each one's median round (other load on the machine moves single
	// numbers around), the JSON every round.
	zipPath := filepath.Join(b.tmp, "zips", "nave-"+label+".zip")
	os.MkdirAll(filepath.Dir(zipPath), 0o755)
	defer os.Remove(zipPath)
	for round := 1; round <= b.runs; round++ {
		var s sample
		b.quiesce()
		if la, err := os.ReadFile("/proc/loadavg"); err == nil {
			s.LoadAvg = strings.TrimSpace(string(la))
		}
		b.logf("%s [%d/%d]: baseline zip -0 -r + rclone copy", label, round, b.runs)
		if s.Baseline, err = b.baseline(ctx, setDir, zipPath, label); err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		b.emptyBucket(ctx)
		b.quiesce()
		b.logf("%s [%d/%d]: limit (one multipart upload of the made zip, AWS SDK)", label, round, b.runs)
		if s.Limit, err = b.limit(ctx, zipPath, "limit/nave-"+label+".zip"); err != nil {
			return nil, fmt.Errorf("limit: %w", err)
		}
		b.emptyBucket(ctx)
		os.Remove(zipPath)
		b.quiesce()
		b.logf("%s [%d/%d]: scandrop end to end", label, round, b.runs)
		if s.Scandrop, err = b.scandropRealsee(ctx, setDir, "nave-"+label, total); err != nil {
			return nil, fmt.Errorf("scandrop: %w", err)
		}
		b.emptyBucket(ctx)
		b.logf("%s [%d/%d]: scandrop %.0f MiB/s (upload stage %.0f), limit %.0f MiB/s, baseline %.0f MiB/s", label, round, b.runs,
			s.Scandrop.MiBps, s.Scandrop.UploadMiBps, s.Limit.MiBps, s.Baseline.MiBps)
		res.Rounds = append(res.Rounds, s)
	}
	res.Scandrop = median(res.Rounds, func(s sample) float64 { return s.Scandrop.MiBps }).Scandrop
	res.Limit = median(res.Rounds, func(s sample) float64 { return s.Limit.MiBps }).Limit
	res.Baseline = median(res.Rounds, func(s sample) float64 { return s.Baseline.MiBps }).Baseline
	for _, s := range res.Rounds {
		res.Scandrop.PeakRSS = max(res.Scandrop.PeakRSS, s.Scandrop.PeakRSS)
	}
	if res.Limit.MiBps > 0 {
		res.RatioLimit = res.Scandrop.MiBps / res.Limit.MiBps
	}
	if res.Baseline.MiBps > 0 {
		res.RatioBaseline = res.Scandrop.MiBps / res.Baseline.MiBps
	}
	return res, nil
}

// baseline is what a careful person scripts: zip -0 -r, then rclone copy,
// with rclone's chunk size and concurrency set to scandrop's.
func (b *bench) baseline(ctx context.Context, setDir, zipPath, label string) (contender, error) {
	var c contender
	zipBin, zerr := exec.LookPath("zip")
	if zerr != nil {
		c.Skipped = "baseline skipped: zip not installed"
		// The limit still needs the zip: write it the same way (stored).
		return c, storeZip(setDir, zipPath)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, zipBin, "-0", "-r", "-q", "-X", zipPath, "manifest.json", "images")
	cmd.Dir = setDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return c, fmt.Errorf("zip: %v: %s", err, out)
	}
	c.ZipS = secs(time.Since(start))
	zipCPU := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	rclone, rerr := exec.LookPath("rclone")
	if rerr != nil {
		c.Skipped = "baseline skipped: rclone not installed"
		return c, nil
	}
	srv0 := b.serverCPU()
	start = time.Now()
	cmd = exec.CommandContext(ctx, rclone, "copy", "-q", zipPath, "bench:"+b.s3.Bucket+"/baseline/",
		"--s3-chunk-size", fmt.Sprint(b.partSize/1024)+"k", "--s3-upload-concurrency", fmt.Sprint(b.concurrency))
	// AWS_CA_BUNDLE (set on some machines) makes rclone's SDK refuse its own
	// transport; the store is plain HTTP anyway.
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") && !strings.HasPrefix(e, "RCLONE_") {
			env = append(env, e)
		}
	}
	cmd.Env = append(env,
		"RCLONE_CONFIG_BENCH_TYPE=s3",
		"RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+b.s3.AccessKey,
		"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+b.s3.SecretKey,
		"RCLONE_CONFIG_BENCH_ENDPOINT="+b.s3.Endpoint,
		"RCLONE_CONFIG_BENCH_REGION="+b.s3.Region,
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
		"RCLONE_CONFIG_BENCH_ENV_AUTH=false",
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		return c, fmt.Errorf("rclone: %v: %s", err, out)
	}
	c.UploadS = secs(time.Since(start))
	c.ServerCPUS = secs(b.serverCPU() - srv0)
	c.CPUS = secs(zipCPU + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime())
	c.S = c.ZipS + c.UploadS
	fi, _ := os.Stat(zipPath)
	c.MiBps = float64(fi.Size()) / mib / c.S
	return c, nil
}

// limit uploads the finished zip as one multipart upload with the AWS SDK,
// the same part size, concurrency, client options and signing as
// scandrop: the fastest this store takes these bytes, with no packaging.
func (b *bench) limit(ctx context.Context, zipPath, key string) (contender, error) {
	var c contender
	f, err := os.Open(zipPath)
	if err != nil {
		return c, err
	}
	defer f.Close()
	fi, _ := f.Stat()
	size := fi.Size()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = b.concurrency
	cl := s3.New(s3.Options{
		Region: b.s3.Region, BaseEndpoint: aws.String(b.s3.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(b.s3.AccessKey, b.s3.SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	srv0, cpu0 := b.serverCPU(), selfCPU()
	start := time.Now()
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.s3.Bucket, Key: &key})
	if err != nil {
		return c, err
	}
	parts := int((size + b.partSize - 1) / b.partSize)
	done := make([]types.CompletedPart, parts)
	next := make(chan int)
	errs := make(chan error, b.concurrency)
	var wg sync.WaitGroup
	for range b.concurrency {
		wg.Go(func() {
			for i := range next {
				off := int64(i) * b.partSize
				n := min(b.partSize, size-off)
				out, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: &b.s3.Bucket, Key: &key, UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), Body: &bigReads{io.NewSectionReader(f, off, n)}, ContentLength: aws.Int64(n)})
				if err != nil {
					errs <- err
					return
				}
				done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag}
			}
		})
	}
	for i := range parts {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return c, err
	}
	if _, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &b.s3.Bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		return c, err
	}
	c.S = secs(time.Since(start))
	c.CPUS = secs(selfCPU() - cpu0)
	c.ServerCPUS = secs(b.serverCPU() - srv0)
	c.MiBps = float64(size) / mib / c.S
	return c, nil
}

// scandropRealsee drops a copy (hard links) of setDir into a fresh watch
// folder of a fresh daemon and times it to result.json.
func (b *bench) scandropRealsee(ctx context.Context, setDir, name string, size int64) (scandropRun, error) {
	var r scandropRun
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
	b.gwTimes.reset()
	cpu0, _ := cpuTime(d.pid())
	srv0 := b.serverCPU()
	mark := d.mark()
	if err := os.Rename(staging, filepath.Join(watch, "inbox", name)); err != nil {
		return r, err
	}
	t0 := time.Now()
	if _, err := d.waitEvent(mark, b.jobTimeout(size), func(e logEvent) bool {
		return e.Folder == name && (e.Msg == "job succeeded" || e.Msg == "job failed")
	}); err != nil {
		return r, err
	}
	resPath := filepath.Join(watch, "done", name, "result.json")
	if err := waitFile(resPath, 10*time.Second); err != nil {
		return r, err
	}
	raw := time.Since(t0)
	cpu1, _ := cpuTime(d.pid())
	r.CPUS = secs(cpu1 - cpu0)
	r.ServerCPUS = secs(b.serverCPU() - srv0)
	r.PeakRSS = d.peak()
	var res struct {
		Status string `json:"status"`
	}
	rb, _ := os.ReadFile(resPath)
	json.Unmarshal(rb, &res)
	r.Status = res.Status
	r.RawS = secs(raw)
	r.MinusSettleS = secs(raw - b.settle)
	r.GatewayCheckS = secs(b.gwTimes.total("/open/v1/pano/task/submit"))
	r.NetS = r.MinusSettleS - r.GatewayCheckS
	r.MiBps = float64(size) / mib / r.NetS
	st := stageTimes(d.eventsFor(name))
	r.Stages = map[string]float64{}
	for k, v := range st {
		r.Stages[k] = secs(v.Sub(st["claimed"]))
	}
	if up, sub := st["upload"], st["submit"]; !up.IsZero() && !sub.IsZero() {
		r.UploadMiBps = float64(size) / mib / secs(sub.Sub(up))
	}
	return r, nil
}

// jobTimeout is a generous bound for one job: 10 MiB/s.
func (b *bench) jobTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size/(10*mib))*time.Second
}

// emptyBucket deletes every object and pending upload, to free the disk.
func (b *bench) emptyBucket(ctx context.Context) {
	cl := b.s3.Client
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &b.s3.Bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.s3.Bucket, Key: o.Key})
		}
	}
	ups, err := cl.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &b.s3.Bucket})
	if err == nil {
		for _, u := range ups.Uploads {
			cl.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &b.s3.Bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
}

// bigReads gives the limit's part bodies what scandrop's have: the SDK's
// hashing pass for the signature (io.Copy into a SHA-256) reads 256 KiB at
// a time instead of 32 KiB, so that the limit is the best this SDK does.
type bigReads struct{ *io.SectionReader }

func (b *bigReads) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 256<<10)
	var total int64
	for {
		n, err := b.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
			total += int64(n)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
