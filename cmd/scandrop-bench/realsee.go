//go:build linux

package main

import (
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
	ClaimSubmitS  float64            `json:"claim_submit_s"`  // "claimed folder" → the submit stage: validate, package, upload
	RawS          float64            `json:"raw_s"`           // rename into inbox/ → result.json
	MinusSettleS  float64            `json:"minus_settle_s"`  // raw − settle
	GatewayCheckS float64            `json:"gateway_check_s"` // the fake gateway reading the zip back at submit
	MiBps         float64            `json:"mib_per_s"`       // size / claim → submit
	UploadMiBps   float64            `json:"upload_mib_per_s"`
	PeakRSS       int64              `json:"peak_rss_bytes"`
	CPUS          float64            `json:"cpu_s"`        // daemon utime+stime, rename → submit
	ServerCPUS    float64            `json:"server_cpu_s"` // the S3 server's utime+stime, rename → submit
	ReadBytes     int64              `json:"read_bytes"`   // the daemon's rchar, rename → submit
	DiskBytes     int64              `json:"disk_bytes"`   // the daemon's read_bytes, rename → submit
	Stages        map[string]float64 `json:"stages_s"`     // from claim: seconds at which each stage began
	Status        string             `json:"status"`
}

// contender is the limit (one SDK multipart upload of the made zip).
type contender struct {
	S          float64 `json:"s"`
	MiBps      float64 `json:"mib_per_s"`
	CPUS       float64 `json:"cpu_s"`
	ServerCPUS float64 `json:"server_cpu_s"`
	ReadBytes  int64   `json:"read_bytes"` // the benchmark process's rchar over the upload
}

// storeRound is one round against one store.
type storeRound struct {
	Limit    contender   `json:"limit"`
	Scandrop scandropRun `json:"scandrop"`
}

type sample struct {
	// LoadAvg is /proc/loadavg at the start of the round: other work on
	// the machine (two cores here) shows in every number.
	LoadAvg string                 `json:"loadavg"`
	ZipS    float64                `json:"zip_s"` // zip -0 -r of the drop (0: zip not installed)
	ZipCPUS float64                `json:"zip_cpu_s"`
	Stores  map[string]*storeRound `json:"stores"`
}

type realseeResult struct {
	Label  string   `json:"label"`
	Size   int64    `json:"size_bytes"`
	Images int      `json:"images"`
	Rounds []sample `json:"rounds"`
}

// quiesce writes back what earlier runs left dirty in the page cache, so
// that no run pays for the one before it.
func (b *bench) quiesce() {
	syscall.Sync()
	time.Sleep(3 * time.Second) // the stores' own work after an upload (MinIO's) settles too
}

const mib = 1 << 20

func secs(d time.Duration) float64 { return d.Seconds() }

// selfCPU is this process's CPU time, for the in-process limit upload.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runRealsee measures one size against every store: each round makes the
// zip once (timed: the zip of zip+SDK), then, per store, the limit and
// scandrop; the stores, and the limit and scandrop, take turns going first
// from round to round.
func (b *bench) runRealsee(ctx context.Context, label string, size int64) (*realseeResult, []Row, error) {
	res := &realseeResult{Label: label}
	setDir := filepath.Join(b.tmp, "sets", "nave-"+label)
	b.logf("%s: writing the data set", label)
	total, n, err := realseeSet(setDir, b.panos, size)
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(setDir)
	res.Size, res.Images = total, n
	if err := warm(setDir); err != nil {
		return nil, nil, err
	}
	zipPath := filepath.Join(b.tmp, "zips", "nave-"+label+".zip")
	os.MkdirAll(filepath.Dir(zipPath), 0o755)
	defer os.Remove(zipPath)
	_, zerr := exec.LookPath("zip")
	for round := 1; round <= b.runs; round++ {
		s := sample{Stores: map[string]*storeRound{}}
		b.quiesce()
		if la, err := os.ReadFile("/proc/loadavg"); err == nil {
			s.LoadAvg = strings.TrimSpace(string(la))
		}
		b.logf("%s [%d/%d]: zip -0 -r", label, round, b.runs)
		if s.ZipS, s.ZipCPUS, err = makeZip(ctx, setDir, zipPath); err != nil {
			return nil, nil, fmt.Errorf("zip: %w", err)
		}
		order := slices.Clone(b.stores)
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, st := range order {
			r := &storeRound{}
			limit := func() error {
				b.quiesce()
				if b.cold {
					if err := evict(zipPath); err != nil {
						return err
					}
				}
				b.logf("%s [%d/%d] %s: limit (one multipart upload of the made zip, AWS SDK)", label, round, b.runs, st.Name)
				if r.Limit, err = b.limit(ctx, st, zipPath, "limit/nave-"+label+".zip"); err != nil {
					return fmt.Errorf("%s: limit: %w", st.Name, err)
				}
				b.emptyBucket(ctx, st)
				return nil
			}
			mine := func() error {
				b.quiesce()
				if b.cold {
					if err := evict(setDir); err != nil {
						return err
					}
				}
				b.logf("%s [%d/%d] %s: scandrop end to end", label, round, b.runs, st.Name)
				if r.Scandrop, err = b.scandropRealsee(ctx, st, setDir, "nave-"+label, total); err != nil {
					return fmt.Errorf("%s: scandrop: %w", st.Name, err)
				}
				b.emptyBucket(ctx, st)
				return nil
			}
			// Which of the two goes first alternates too, so that a trend in
			// the machine's load favours neither.
			pair := []func() error{limit, mine}
			if round%2 == 0 {
				slices.Reverse(pair)
			}
			for _, f := range pair {
				if err := f(); err != nil {
					return nil, nil, err
				}
			}
			b.logf("%s [%d/%d] %s: scandrop %.0f MiB/s (upload stage %.0f), limit %.0f MiB/s: %.0f%%", label, round, b.runs, st.Name,
				r.Scandrop.MiBps, r.Scandrop.UploadMiBps, r.Limit.MiBps, 100*r.Scandrop.MiBps/r.Limit.MiBps)
			s.Stores[st.Name] = r
		}
		os.Remove(zipPath)
		res.Rounds = append(res.Rounds, s)
	}

	var rows []Row
	gib := float64(total) / (1 << 30)
	for _, st := range b.stores {
		scen := "realsee loopback"
		if b.cold {
			scen += ", cold cache"
		}
		row := Row{Scenario: scen, Store: st.Name, Size: total, Files: n + 1, Rounds: len(res.Rounds),
			Limit: "SDK upload of the zip"}
		var ratios, mine, lim, zipSDK, rd, disk, limRd, cpu, srv, lcpu, lsrv []float64
		for _, s := range res.Rounds {
			r := s.Stores[st.Name]
			ratios = append(ratios, r.Scandrop.MiBps/r.Limit.MiBps)
			mine, lim = append(mine, r.Scandrop.MiBps), append(lim, r.Limit.MiBps)
			if s.ZipS > 0 {
				zipSDK = append(zipSDK, float64(total)/mib/(s.ZipS+r.Limit.S))
			}
			rd, disk = append(rd, float64(r.Scandrop.ReadBytes)/float64(total)), append(disk, float64(r.Scandrop.DiskBytes)/float64(total))
			limRd = append(limRd, float64(r.Limit.ReadBytes)/float64(total))
			cpu, srv = append(cpu, r.Scandrop.CPUS/gib), append(srv, r.Scandrop.ServerCPUS/gib)
			lcpu, lsrv = append(lcpu, r.Limit.CPUS/gib), append(lsrv, r.Limit.ServerCPUS/gib)
			row.PeakRSS = max(row.PeakRSS, r.Scandrop.PeakRSS)
		}
		med := func(v []float64) float64 { m, _, _ := ratioStats(v); return m }
		row.Ratio, row.RatioMin, row.RatioMax = ratioStats(ratios)
		row.MiBps, row.LimitMiBps = med(mine), med(lim)
		if zerr == nil {
			row.Others = []Other{{Name: "zip+SDK", MiBps: med(zipSDK), Speedup: row.MiBps / med(zipSDK)}}
		} else {
			row.Note = "zip+SDK skipped: zip not installed"
		}
		row.Read, row.DiskRead, row.LimitRead = med(rd), med(disk), med(limRd)
		row.CPUGiB, row.ServerCPUGiB, row.LimitCPUGiB, row.LimitServerCPUG = med(cpu), med(srv), med(lcpu), med(lsrv)
		rows = append(rows, row)
	}
	return res, rows, nil
}

// makeZip writes the drop as a stored zip, with zip -0 -r as a careful
// person would (timed), or, without zip, with Go's archive/zip (untimed:
// the limit still needs the file).
func makeZip(ctx context.Context, setDir, zipPath string) (s, cpuS float64, err error) {
	os.Remove(zipPath)
	zipBin, zerr := exec.LookPath("zip")
	if zerr != nil {
		return 0, 0, storeZip(setDir, zipPath)
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, zipBin, "-0", "-r", "-q", "-X", zipPath, "manifest.json", "images")
	cmd.Dir = setDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, out)
	}
	return secs(time.Since(start)), secs(cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()), nil
}

// rcloneCopy copies path to st's bucket under dest/ with rclone, with
// rclone's chunk size and concurrency set to scandrop's, and returns its
// CPU time. RCLONE_CONFIG_BENCH_* configure the remote "bench"; extra adds
// flags or overrides (an endpoint through a proxy: extraEnv).
func (b *bench) rcloneCopy(ctx context.Context, st *store, path, dest string, extraEnv ...string) (time.Duration, error) {
	rclone, err := exec.LookPath("rclone")
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, rclone, "copy", "-q", path, "bench:"+st.Bucket+"/"+dest+"/",
		"--s3-chunk-size", fmt.Sprint(b.partSize/1024)+"k", "--s3-upload-concurrency", fmt.Sprint(b.concurrency))
	// AWS_CA_BUNDLE (set on some machines) makes rclone's SDK refuse its own
	// transport; the store is plain HTTP anyway.
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AWS_") && !strings.HasPrefix(e, "RCLONE_") {
			env = append(env, e)
		}
	}
	cmd.Env = append(append(env,
		"RCLONE_CONFIG_BENCH_TYPE=s3",
		"RCLONE_CONFIG_BENCH_PROVIDER=Other",
		"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+st.AccessKey,
		"RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+st.SecretKey,
		"RCLONE_CONFIG_BENCH_ENDPOINT="+st.Endpoint,
		"RCLONE_CONFIG_BENCH_REGION="+st.Region,
		"RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
		"RCLONE_CONFIG_BENCH_ENV_AUTH=false",
	), extraEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("rclone: %v: %s", err, out)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// limit uploads the finished zip as one multipart upload with the AWS SDK,
// the same part size, concurrency, client options and signing as
// scandrop: the fastest this store takes these bytes, with no packaging.
func (b *bench) limit(ctx context.Context, st *store, zipPath, key string) (contender, error) {
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
		Region: st.Region, BaseEndpoint: aws.String(st.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(st.AccessKey, st.SecretKey, ""),
		HTTPClient:                 &http.Client{Transport: tr},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	srv0, cpu0 := st.cpu(), selfCPU()
	rd0, _, _ := ioCounters(os.Getpid())
	start := time.Now()
	up, err := cl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &st.Bucket, Key: &key})
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
				out, err := cl.UploadPart(ctx, &s3.UploadPartInput{Bucket: &st.Bucket, Key: &key, UploadId: up.UploadId,
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
	if _, err := cl.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &st.Bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		return c, err
	}
	c.S = secs(time.Since(start))
	c.CPUS = secs(selfCPU() - cpu0)
	c.ServerCPUS = secs(st.cpu() - srv0)
	rd1, _, _ := ioCounters(os.Getpid())
	c.ReadBytes = rd1 - rd0
	c.MiBps = float64(size) / mib / c.S
	return c, nil
}

// scandropRealsee drops a copy (hard links) of setDir into a fresh watch
// folder of a fresh daemon and times it to result.json.
func (b *bench) scandropRealsee(ctx context.Context, st *store, setDir, name string, size int64) (scandropRun, error) {
	var r scandropRun
	watch := filepath.Join(b.tmp, "watch-"+name)
	defer os.RemoveAll(watch)
	b.gwURL = st.gwURL
	d, err := b.daemonFor(watch, "auto", b.pollInterval, b.settle, "")
	if err != nil {
		return r, err
	}
	defer d.stop()
	staging := filepath.Join(watch, "staging", name)
	if err := linkTree(setDir, staging); err != nil {
		return r, err
	}
	st.gwTimes.reset()
	cpu0, _ := cpuTime(d.pid())
	rd0, disk0, _ := ioCounters(d.pid())
	srv0 := st.cpu()
	mark := d.mark()
	if err := os.Rename(staging, filepath.Join(watch, "inbox", name)); err != nil {
		return r, err
	}
	t0 := time.Now()
	// CPU and reads are counted to the submit: after it the fake gateway
	// reads the zip back from the store, which is the vendor's work.
	if _, err := d.waitEvent(mark, b.jobTimeout(size), func(e logEvent) bool {
		return e.Folder == name && (e.Msg == "stage" && e.Stage == "submit" || e.Msg == "job succeeded" || e.Msg == "job failed")
	}); err != nil {
		return r, err
	}
	cpu1, _ := cpuTime(d.pid())
	r.CPUS = secs(cpu1 - cpu0)
	r.ServerCPUS = secs(st.cpu() - srv0)
	rd1, disk1, _ := ioCounters(d.pid())
	r.ReadBytes, r.DiskBytes = rd1-rd0, disk1-disk0
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
	r.PeakRSS = d.peak()
	var res struct {
		Status string `json:"status"`
	}
	rb, _ := os.ReadFile(resPath)
	json.Unmarshal(rb, &res)
	r.Status = res.Status
	r.RawS = secs(raw)
	r.MinusSettleS = secs(raw - b.settle)
	r.GatewayCheckS = secs(st.gwTimes.total("/open/v1/pano/task/submit"))
	stages := stageTimes(d.eventsFor(name))
	r.Stages = map[string]float64{}
	for k, v := range stages {
		r.Stages[k] = secs(v.Sub(stages["claimed"]))
	}
	if c, sub := stages["claimed"], stages["submit"]; !c.IsZero() && !sub.IsZero() {
		r.ClaimSubmitS = secs(sub.Sub(c))
		r.MiBps = float64(size) / mib / r.ClaimSubmitS
	} else {
		return r, fmt.Errorf("no claim or submit in the log (status %q); see %s", r.Status, d.logPath)
	}
	if up, sub := stages["upload"], stages["submit"]; !up.IsZero() && !sub.IsZero() {
		r.UploadMiBps = float64(size) / mib / secs(sub.Sub(up))
	}
	return r, nil
}

// jobTimeout is a generous bound for one job: 10 MiB/s.
func (b *bench) jobTimeout(size int64) time.Duration {
	return 2*time.Minute + time.Duration(size/(10*mib))*time.Second
}

// emptyBucket deletes every object and pending upload, to free the disk.
func (b *bench) emptyBucket(ctx context.Context, st *store) {
	cl := st.Client
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: &st.Bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &st.Bucket, Key: o.Key})
		}
	}
	ups, err := cl.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &st.Bucket})
	if err == nil {
		for _, u := range ups.Uploads {
			cl.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &st.Bucket, Key: u.Key, UploadId: u.UploadId})
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
