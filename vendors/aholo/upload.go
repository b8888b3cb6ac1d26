package aholo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scandrop/scandrop/internal/backoff"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/dropfs"
)

// OUS paths, relative to globalDomain.
const (
	ousSingle     = "/ous/api/v2/single/upload"
	ousBlockInit  = "/ous/api/v2/block/upload/init"
	ousBlockPart  = "/ous/api/v2/block/upload/part"
	ousBlockAbort = "/ous/api/v2/block/upload/abort"
	ousStatus     = "/ous/api/v2/upload/status"
	ousTokenHdr   = "ous-token-v2"
)

const (
	// blockParallel is how many blocks of one file are in flight, as the
	// official SDK does.
	blockParallel = 2
	// statusEvery is the OUS status polling interval (the service asks for
	// at least 200 ms).
	statusEvery = 200 * time.Millisecond
	// statusQuick is how many polls are made statusEvery apart before the
	// wait starts doubling: most files are done within a second of their
	// last byte, and waiting longer than the service allows is idle time.
	statusQuick = 5
	// statusMax is the longest wait between two status polls: the wait
	// doubles from statusEvery, so that a file OUS is slow to assemble is
	// not asked about five times a second for minutes.
	statusMax = 5 * time.Second
	// tokenLife is how long an upload token is good for (the document:
	// ten minutes). A token older than tokenFresh when its file gets to
	// send is replaced first rather than risk expiring mid-file.
	tokenLife  = 10 * time.Minute
	tokenFresh = tokenLife / 2
	// adaptFactor and maxSenders bound how far the number of files
	// sending at once may grow past UploadConcurrency when round trips
	// dominate (small files, long RTT): to adaptFactor times it, and never
	// past maxSenders.
	adaptFactor = 8
	maxSenders  = 64
	// statusNoData is the least wait after a status answer without data.
	statusNoData = time.Second
	// partTimeout bounds one block or small-file request.
	partTimeout = 10 * time.Minute
	// defaultBlockSize is used when the token answer has no blockSize.
	defaultBlockSize = 4 << 20
)

// Upload sends every resource OUS does not hold yet, each with its own
// upload token. What is done is recorded per file in the journal (md5,
// size, URL), so a restarted Upload skips finished files; a block upload cut
// short is resumed by calling init again with the same md5, which answers
// with the blocks still missing.
//
// A file's life has three phases, and only the middle one moves bytes: the
// token (one round trip to the API), the transfer, and the status polls
// until OUS has assembled the file (a round trip, then at least 200 ms
// apart). So the files are pipelined: at least UploadConcurrency files
// send at once, the next ones fetch their tokens meanwhile, and a file
// waits for its status without holding a sending slot. Over a long round
// trip with small files even the transfers are mostly waiting, so the
// number of files sending at once grows until the link is kept busy (see
// senders), up to adaptFactor × UploadConcurrency.
func (j *Job) Upload(ctx context.Context, jr vendors.Journal, p vendors.Progress) error {
	const op = "aholo: upload"
	if err := j.packaged(ctx, jr); err != nil {
		return err
	}
	recs := map[string]uploadRecord{}
	if _, err := jr.Load(keyUploads, &recs); err != nil {
		return vendors.E(vendors.Other, op, fmt.Errorf("journal: %w", err))
	}
	u := newUploader(j, jr)
	u.prog = &progress{p: p, total: totalSize(j.files)}
	var todo []file
	for _, f := range j.files {
		r := recs[f.Name]
		if r.URL != "" && r.MD5 == f.MD5 && r.Size == f.Size {
			u.recs[f.Name] = r
			u.prog.add(f.Size)
			continue
		}
		u.recs[f.Name] = uploadRecord{MD5: f.MD5, Size: f.Size}
		todo = append(todo, f)
	}
	if len(todo) == 0 {
		u.prog.report()
		return j.verify()
	}
	if err := jr.Store(keyUploads, u.recs); err != nil {
		return vendors.E(vendors.Transient, op, fmt.Errorf("journal: %w", err))
	}
	u.prog.report()
	// Said once per attempt, when its first byte goes out: an attempt
	// that sends nothing (no upload token, OUS unreachable) is the
	// pipeline's retry warning to tell, not an upload to announce again.
	u.prog.sending = sync.OnceFunc(func() { j.log.Info("aholo: uploading", "files", len(todo), "of", len(j.files)) })

	// After a failure no new file starts and those waiting for a sending
	// slot give up their turn; those sending finish, so that what they
	// send is recorded and not sent again by the retry.
	var (
		wg sync.WaitGroup
		// Files under way: sending, about to, or waiting for their status.
		sem      = make(chan struct{}, 2*u.ceiling)
		stop     = &u.stopped
		errMu    sync.Mutex
		firstErr error
	)
	for _, f := range todo {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || stop.Load() {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := u.file(ctx, f); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				stop.Store(true)
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		if unclassified(firstErr) {
			firstErr = vendors.E(vendors.Transient, op, firstErr)
		}
		return firstErr
	}
	j.log.Info("aholo: uploaded", "files", len(todo), "sent_bytes", j.sent.Load())
	return j.verify()
}

// unclassified reports whether err carries no vendors.Error (a bare context
// error, typically) and so needs one.
func unclassified(err error) bool {
	var e *vendors.Error
	return !errors.As(err, &e)
}

type uploader struct {
	job  *Job
	jr   vendors.Journal
	prog *progress

	mu   sync.Mutex
	recs map[string]uploadRecord

	// taskIDs maps a token to its block upload task, for abort.
	taskIDs sync.Map

	// sending bounds the files moving bytes at once; tokens bounds the
	// files holding a token while they wait for a sending slot, so that
	// tokens are fetched ahead only as far as they will be used soon.
	sending, tokens *gate
	base, ceiling   int

	// stopped is set after a failure: files that have not begun to send
	// give up their turn (errStopped); those sending finish.
	stopped atomic.Bool

	tuneMu sync.Mutex
	rtt    time.Duration // least round trip seen to OUS; 0: none yet
	ratio  float64       // moving average of transfer time / its busy part
}

func newUploader(j *Job, jr vendors.Journal) *uploader {
	base := j.v.cfg.UploadConcurrency
	ceiling := max(base, min(adaptFactor*base, maxSenders))
	return &uploader{job: j, jr: jr, recs: map[string]uploadRecord{},
		sending: newGate(base), tokens: newGate(base), base: base, ceiling: ceiling}
}

// observe takes the duration of one OUS request: one without a body (a
// status poll, init) measures the round trip, one with a body (a file or a
// block) how much of its time the bytes were moving. From these it sets
// how many files send at once.
func (u *uploader) observe(hasBody bool, d time.Duration) {
	u.tuneMu.Lock()
	defer u.tuneMu.Unlock()
	if !hasBody {
		if u.rtt == 0 || d < u.rtt {
			u.rtt = d
		}
		return
	}
	if u.rtt == 0 {
		return
	}
	r := float64(u.ceiling)
	if d > u.rtt {
		r = min(float64(d)/float64(d-u.rtt), r)
	}
	if u.ratio == 0 {
		u.ratio = r
	} else {
		u.ratio = 0.8*u.ratio + 0.2*r
	}
	n := senders(u.ratio, u.base, u.ceiling)
	u.sending.setLimit(n)
	u.tokens.setLimit(n)
}

// senders is how many transfers keep the link busy when one transfer's
// time is ratio times the time its bytes are moving (the rest is the round
// trip of the request and its answer): while one waits for its answer,
// ratio-1 others fill the link, plus one in hand; never fewer than base nor
// more than ceiling. Once the link is full, transfers slow down, the ratio
// falls, and so does the number.
func senders(ratio float64, base, ceiling int) int {
	return min(max(int(math.Ceil(ratio))+1, base), ceiling)
}

// done records a finished file durably.
func (u *uploader) done(f file, url string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.recs[f.Name] = uploadRecord{MD5: f.MD5, Size: f.Size, URL: url}
	return u.jr.Store(keyUploads, u.recs)
}

// file uploads one resource. An upload token that OUS calls expired or
// unknown is replaced once; the second refusal is a Transient error.
func (u *uploader) file(ctx context.Context, f file) error {
	op := "aholo: upload " + f.Name
	var err error
	for attempt := 1; attempt <= 2; attempt++ {
		var url string
		fp := &fileProg{prog: u.prog}
		url, err = u.fileOnce(ctx, op, f, fp)
		if err != nil {
			fp.undo()
		}
		if err == nil {
			if err := u.done(f, url); err != nil {
				return vendors.E(vendors.Transient, op, fmt.Errorf("journal: %w", err))
			}
			u.job.log.Debug("aholo: file uploaded", "file", f.Name, "bytes", f.Size)
			return nil
		}
		if !isTokenError(err) {
			break
		}
		u.job.log.Info("aholo: upload token refused; fetching a new one", "file", f.Name, "err", err)
	}
	if ctx.Err() != nil && unclassified(err) {
		return vendors.E(vendors.Transient, op, err)
	}
	return err
}

// ous is one upload token and the service it is good for.
type ous struct {
	base      *url.URL
	token     string
	blockSize int64
	issued    time.Time // when the token was fetched, by the client's clock
}

func (u *uploader) token(ctx context.Context, op string) (*ous, error) {
	c := u.job.v.client
	var t uploadToken
	err := c.api(ctx, op+": token", http.MethodGet, "/upload/token", nil, nil, &t, false)
	if err != nil {
		return nil, err
	}
	if t.OUSToken == "" {
		return nil, vendors.E(vendors.Transient, op+": token", "the answer holds no ousToken")
	}
	base, err := ousBase(t.GlobalDomain)
	if err != nil {
		return nil, vendors.E(vendors.Rejected, op+": token", err)
	}
	o := &ous{base: base, token: t.OUSToken, blockSize: int64(t.BlockSize), issued: c.clock.Now()}
	if o.blockSize <= 0 {
		o.blockSize = defaultBlockSize
	}
	return o, nil
}

// errStopped is what a file that gave up its turn after another file's
// failure returns; that failure is the one reported.
var errStopped = errors.New("aholo: upload stopped after another file failed")

func (u *uploader) fileOnce(ctx context.Context, op string, f file, fp *fileProg) (string, error) {
	if u.stopped.Load() {
		return "", errStopped
	}
	// The token's round trip overlaps other files' transfers.
	if err := u.tokens.acquire(ctx); err != nil {
		return "", vendors.E(vendors.Transient, op, err)
	}
	o, err := u.token(ctx, op)
	if err == nil {
		err = u.sending.acquire(ctx)
		if err != nil {
			err = vendors.E(vendors.Transient, op, err)
		}
	}
	u.tokens.release()
	if err != nil {
		return "", err
	}
	if u.stopped.Load() {
		u.sending.release()
		return "", errStopped
	}
	sending := true
	defer func() {
		if sending {
			u.sending.release()
		}
	}()
	if u.job.v.client.clock.Now().Sub(o.issued) > tokenFresh {
		// A long wait for a slot (a big file ahead on a slow link).
		if o, err = u.token(ctx, op); err != nil {
			return "", err
		}
	}
	// The file is sent only if it is still the one validated and packaged
	// (its MD5 is of those bytes), and checked again once sent.
	fh, err := dropfs.OpenStamped(op, u.job.dir, f.Name, f.Stamp)
	if err != nil {
		if ctx.Err() != nil {
			return "", vendors.E(vendors.Transient, op, ctx.Err())
		}
		return "", err
	}
	defer fh.Close()
	url, err := u.sendFile(ctx, op, o, fh, f, fp)
	u.sending.release()
	sending = false
	if err == nil && url == "" {
		url, err = u.wait(ctx, op, o)
	}
	if bad := dropfs.CheckOpen(op, u.job.dir, f.Name, fh, f.Stamp); bad != nil {
		return "", bad
	}
	return url, err
}

// sendFile sends an opened resource, in one request or in blocks. It
// returns the URL if OUS gave it already; otherwise the caller waits for it.
func (u *uploader) sendFile(ctx context.Context, op string, o *ous, fh *os.File, f file, fp *fileProg) (string, error) {
	if f.Size <= o.blockSize {
		return u.single(ctx, op, o, fh, f, fp)
	}
	url, err := u.blocks(ctx, op, o, fh, f, fp)
	var missing *missingEndpoint
	if errors.As(err, &missing) {
		// A service without block upload (only the quickstart's single
		// upload): send the file in one request.
		u.job.log.Warn("aholo: no block upload here; sending the file in one request", "file", f.Name, "size", f.Size)
		url, err = u.single(ctx, op, o, fh, f, fp)
	}
	return url, err
}

// send makes one OUS request with the token and decodes d into out.
func (u *uploader) send(ctx context.Context, op string, o *ous, method, p string, q url.Values, body io.Reader, ctype string, length int64, out any) error {
	// A call without a body (status) is small: bounded as a whole like
	// every API call. A block or a file is bounded by partTimeout and the
	// stall guard's minimum rate.
	explain := func(err error) error { return err }
	var cancel context.CancelFunc
	if body == nil {
		ctx, explain, cancel = vendors.BoundCall(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, partTimeout)
	}
	defer cancel()
	ref := *o.base
	ref.Path += p
	ref.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, ref.String(), body)
	if err != nil {
		return vendors.E(vendors.Other, op, err)
	}
	req.Header.Set(ousTokenHdr, o.token)
	req.Header.Set("Accept", "application/json")
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
		req.ContentLength = length
	}
	t0 := time.Now()
	a := u.job.v.client.roundTrip(req)
	a.err = explain(a.err)
	if err := classify(op, a, false, true); err != nil {
		return err
	}
	// Real time, not the injected clock: these are measurements of the
	// link, used only to choose how many files send at once.
	u.observe(body != nil, time.Since(t0))
	return decodeData(op, a.env, out)
}

// single sends a file of at most one block in one multipart request. It
// returns the URL if the answer already has one.
func (u *uploader) single(ctx context.Context, op string, o *ous, fh *os.File, f file, fp *fileProg) (string, error) {
	var t uploadTask
	cr := u.counter(fp, io.NewSectionReader(fh, 0, f.Size))
	body, ctype, n := multipartBody([][2]string{{"md5", f.MD5}}, path.Base(f.Name), cr, f.Size)
	err := u.send(ctx, op, o, http.MethodPost, ousSingle, nil, body, ctype, n, &t)
	if err != nil {
		cr.undo()
		if bad := dropfs.CheckOpen(op, u.job.dir, f.Name, fh, f.Stamp); bad != nil {
			return "", bad // not a failure to retry
		}
	}
	return t.URL, err
}

// blocks sends the blocks OUS lacks of a file larger than one block.
func (u *uploader) blocks(ctx context.Context, op string, o *ous, fh *os.File, f file, fp *fileProg) (string, error) {
	n := int((f.Size + o.blockSize - 1) / o.blockSize)
	q := url.Values{
		"md5":    {f.MD5},
		"blocks": {strconv.Itoa(n)},
		"size":   {strconv.FormatInt(f.Size, 10)},
		"name":   {path.Base(f.Name)},
	}
	var t uploadTask
	err := u.send(ctx, op+": init", o, http.MethodPost, ousBlockInit, q, nil, "", 0, &t)
	if err != nil {
		return "", err
	}
	if t.URL != "" {
		fp.add(f.Size)
		return t.URL, nil
	}
	lack, err := parseLackBlocks(t.LackBlocks, n)
	if err != nil {
		return "", vendors.E(vendors.Rejected, op+": init", err)
	}
	blockLen := func(i int) int64 { return min(o.blockSize, f.Size-int64(i-1)*o.blockSize) }
	held := f.Size
	for _, i := range lack {
		held -= blockLen(i)
	}
	fp.add(held)
	u.job.log.Debug("aholo: block upload", "file", f.Name, "blocks", n, "missing", len(lack), "task", string(t.TaskID))

	// After a failure no new block starts, but the one in flight beside
	// it runs to its end: cutting it would waste what it has sent, and it
	// has passed the token check that the failure may be about.
	var (
		next     atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(blockParallel, len(lack)) {
		wg.Go(func() {
			for !stop.Load() && ctx.Err() == nil {
				k := int(next.Add(1)) - 1
				if k >= len(lack) {
					return
				}
				i := lack[k]
				cr := u.counter(fp, io.NewSectionReader(fh, int64(i-1)*o.blockSize, blockLen(i)))
				body, ctype, length := multipartBody([][2]string{{"taskId", string(t.TaskID)}, {"index", strconv.Itoa(i)}},
					path.Base(f.Name), cr, blockLen(i))
				err := u.send(ctx, fmt.Sprintf("%s: block %d/%d", op, i, n), o, http.MethodPost, ousBlockPart, nil, body, ctype, length, nil)
				if err != nil {
					cr.undo()
					if bad := dropfs.CheckOpen(op, u.job.dir, f.Name, fh, f.Stamp); bad != nil {
						err = bad // not a failure to retry
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					stop.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return "", firstErr
	}
	if err := ctx.Err(); err != nil {
		return "", vendors.E(vendors.Transient, op, err)
	}
	u.taskIDs.Store(o.token, string(t.TaskID))
	return "", nil
}

// wait polls the upload status of the token's file until OUS has it.
func (u *uploader) wait(ctx context.Context, op string, o *ous) (string, error) {
	c := u.job.v.client
	// Polls, not retries: a failed status call goes back to the pipeline.
	pace := backoff.New(backoff.Policy{First: statusEvery, Ceiling: statusMax}, c.clock).
		Until(c.clock.Now().Add(u.job.v.cfg.UploadStatusTimeout))
	warned := false
	for polls := 1; ; polls++ {
		var st uploadStatus
		var raw json.RawMessage
		err := u.send(ctx, op+": status", o, http.MethodGet, ousStatus, nil, nil, "", 0, &raw)
		if err != nil {
			return "", err
		}
		var least time.Duration
		if len(raw) == 0 || string(raw) == "null" {
			// Not documented; taken as "not done yet", but said once,
			// and asked less often.
			if !warned {
				u.job.log.Warn("aholo: the upload service's status answer has no data; waiting", "op", op)
				warned = true
			}
			least = statusNoData
		} else if err := json.Unmarshal(raw, &st); err != nil {
			return "", vendors.E(vendors.Transient, op+": status", fmt.Errorf("unexpected data %.200q: %v", raw, err))
		}
		switch int(st.Status) {
		case ousDone:
			if st.URL == "" {
				return "", vendors.E(vendors.Transient, op, "upload done without a URL")
			}
			return st.URL, nil
		case ousFailed, ousFailed2:
			if id, ok := u.taskIDs.LoadAndDelete(o.token); ok {
				// Start the next attempt from scratch rather than from
				// blocks that assembled into something wrong.
				_ = u.send(ctx, op+": abort", o, http.MethodPost, ousBlockAbort, url.Values{"taskId": {id.(string)}}, nil, "", 0, nil)
			}
			return "", vendors.E(vendors.Transient, op, fmt.Sprintf("the upload service failed the file (status %d)", st.Status))
		}
		// statusQuick polls statusEvery apart (the service's minimum): most
		// files are assembled within a second; then, or once an answer
		// without data asks for patience, the wait grows.
		var werr error
		if polls < statusQuick && least == 0 {
			werr = pace.Sleep(ctx, statusEvery)
		} else {
			werr = pace.Wait(ctx, least)
		}
		if werr != nil {
			if !errors.Is(werr, backoff.ErrDeadline) { // ctx ended, or its deadline comes first
				return "", vendors.E(vendors.Transient, op, werr)
			}
			return "", vendors.E(vendors.Transient, op, fmt.Sprintf("the upload service did not finish the file within %v (status %d)",
				u.job.v.cfg.UploadStatusTimeout, st.Status))
		}
	}
}

// parseLackBlocks reads init's lackBlocks: null (or absent) means every
// block; otherwise 1-based indexes and ranges ("1,3,5-7", "72-423"), as one
// string or a list of strings and numbers. The result is sorted, without
// duplicates, each in 1..blocks.
func parseLackBlocks(raw json.RawMessage, blocks int) ([]int, error) {
	raw = json.RawMessage(bytes.TrimSpace(raw))
	if len(raw) == 0 || string(raw) == "null" {
		all := make([]int, blocks)
		for i := range all {
			all[i] = i + 1
		}
		return all, nil
	}
	var parts []string
	var s string
	var list []json.RawMessage
	switch {
	case json.Unmarshal(raw, &s) == nil:
		parts = strings.Split(s, ",")
	case json.Unmarshal(raw, &list) == nil:
		for _, el := range list {
			var fs flexString
			if err := json.Unmarshal(el, &fs); err != nil {
				return nil, fmt.Errorf("lackBlocks: bad element %s", el)
			}
			parts = append(parts, strings.Split(string(fs), ",")...)
		}
	default:
		return nil, fmt.Errorf("lackBlocks: unexpected %.100s", raw)
	}
	seen := map[int]bool{}
	var out []int
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(p, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a < 1 || b < a || b > blocks {
			return nil, fmt.Errorf("lackBlocks: %q is not a block or range within 1-%d", p, blocks)
		}
		for i := a; i <= b; i++ {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// multipartBody frames content as the "file" part after the given fields.
// The framing is built up front so that the length is known (no chunked
// upload, which some storage front ends refuse) while the file itself is
// streamed from disk.
func multipartBody(fields [][2]string, fileName string, content io.Reader, size int64) (io.Reader, string, int64) {
	var head, tail bytes.Buffer
	sw := &switchWriter{w: &head}
	mw := multipart.NewWriter(sw)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1]) // writes to a bytes.Buffer cannot fail
	}
	_, _ = mw.CreateFormFile("file", fileName)
	sw.w = &tail
	_ = mw.Close()
	return io.MultiReader(bytes.NewReader(head.Bytes()), content, bytes.NewReader(tail.Bytes())),
		mw.FormDataContentType(), int64(head.Len()) + size + int64(tail.Len())
}

type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// progress sums bytes sent over all files of a job.
type progress struct {
	p     vendors.Progress
	total int64
	done  atomic.Int64
	// sending, if set, is called as file bytes go out (by countingReader).
	sending func()
}

func (p *progress) add(n int64) {
	p.done.Add(n)
	p.report()
}

func (p *progress) report() {
	if p.p != nil {
		p.p.Uploaded(min(max(p.done.Load(), 0), p.total), p.total)
	}
}

// fileProg is one attempt's share of the progress, taken back whole when
// the attempt fails: the next attempt counts what it finds held again.
type fileProg struct {
	prog *progress
	n    atomic.Int64
}

func (f *fileProg) add(n int64) {
	f.n.Add(n)
	f.prog.add(n)
}

func (f *fileProg) undo() { f.prog.add(-f.n.Swap(0)) }

// countingReader counts file bytes as the HTTP client reads them, into the
// job's sent counter and the progress; undo takes them back from the
// progress when the request failed.
type countingReader struct {
	r   io.Reader
	job *Job
	fp  *fileProg
	// read is atomic: the transport may still be reading the body in its
	// own goroutine when a failed request returns.
	read atomic.Int64
}

func (u *uploader) counter(fp *fileProg, r io.Reader) *countingReader {
	return &countingReader{r: r, job: u.job, fp: fp}
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if c.fp.prog.sending != nil {
			c.fp.prog.sending()
		}
		c.read.Add(int64(n))
		c.job.sent.Add(int64(n))
		c.fp.add(int64(n))
	}
	return n, err
}

func (c *countingReader) undo() {
	c.fp.add(-c.read.Swap(0))
}

// gate is a semaphore whose size can change while it is in use.
type gate struct {
	mu    sync.Mutex
	limit int
	used  int
	wake  chan struct{} // closed and replaced when a place may have come free
}

func newGate(limit int) *gate { return &gate{limit: limit, wake: make(chan struct{})} }

func (g *gate) acquire(ctx context.Context) error {
	for {
		g.mu.Lock()
		if g.used < g.limit {
			g.used++
			g.mu.Unlock()
			return nil
		}
		wake := g.wake
		g.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (g *gate) release() {
	g.mu.Lock()
	g.used--
	g.broadcast()
	g.mu.Unlock()
}

func (g *gate) setLimit(n int) {
	g.mu.Lock()
	if n > g.limit {
		g.broadcast()
	}
	g.limit = n
	g.mu.Unlock()
}

// broadcast wakes every waiter; g.mu is held.
func (g *gate) broadcast() {
	close(g.wake)
	g.wake = make(chan struct{})
}
