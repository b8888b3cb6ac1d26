//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
)

type aholoResult struct {
	Photos     int     `json:"photos"`
	VideoBytes int64   `json:"video_bytes"`
	Size       int64   `json:"size_bytes"`
	Files      int     `json:"files"`
	RawS       float64 `json:"raw_s"`          // rename → result.json
	UploadS    float64 `json:"upload_s"`       // claim → submit: validate, package (MD5s), upload
	MiBps      float64 `json:"mib_per_s"`      // size / UploadS
	PeakRSS    int64   `json:"peak_rss_bytes"` // daemon
	CPUS       float64 `json:"cpu_s"`
	Sequential float64 `json:"sequential_s"` // MD5 + upload, one file after another
	SeqMiBps   float64 `json:"sequential_mib_per_s"`
	Ratio      float64 `json:"ratio_to_sequential"`
	Status     string  `json:"status"`
}

func (b *bench) runAholo(ctx context.Context, photos int, videoSize int64) (*aholoResult, error) {
	r := &aholoResult{Photos: photos, VideoBytes: videoSize}
	set := filepath.Join(b.tmp, "sets", "aholo")
	defer os.RemoveAll(set)
	b.logf("aholo: writing %d photos and a %s video", photos, human(videoSize))
	size, err := aholoSet(set, b.photos, photos, videoSize)
	if err != nil {
		return nil, err
	}
	r.Size = size
	if err := warm(set); err != nil {
		return nil, err
	}

	// A server of its own: OUS completes a block upload of a file it
	// already holds at init, which would spare scandrop the video.
	b.logf("aholo: sequential upload (the quick start's way)")
	seq := aholotest.NewServer(aholotest.Options{AppKey: "bench-key", AppSecret: "bench-secret", AppUID: "bench-uid"})
	start := time.Now()
	n, err := sequentialAholo(ctx, seq.URL, seq.Client(), set)
	seq.Close()
	if err != nil {
		return nil, fmt.Errorf("sequential: %w", err)
	}
	r.Sequential = secs(time.Since(start))
	r.Files = n
	r.SeqMiBps = float64(size) / mib / r.Sequential

	b.logf("aholo: scandrop")
	watch := filepath.Join(b.tmp, "watch-aholo")
	defer os.RemoveAll(watch)
	d, err := b.daemonFor(watch, "auto", b.pollInterval, b.settle, "")
	if err != nil {
		return nil, err
	}
	defer d.stop()
	name := "walkthrough"
	staging := filepath.Join(watch, "staging", name)
	if err := linkTree(set, staging); err != nil {
		return nil, err
	}
	cpu0, _ := cpuTime(d.pid())
	mark := d.mark()
	if err := os.Rename(staging, filepath.Join(watch, "inbox", name)); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if _, err := d.waitEvent(mark, 30*time.Minute, func(e logEvent) bool {
		return e.Folder == name && (e.Msg == "job succeeded" || e.Msg == "job failed")
	}); err != nil {
		return nil, err
	}
	for _, sub := range []string{"done", "failed"} {
		p := filepath.Join(watch, sub, name, "result.json")
		if waitFile(p, 2*time.Second) == nil {
			var res struct {
				Status string `json:"status"`
				Error  any    `json:"error"`
			}
			rb, _ := os.ReadFile(p)
			json.Unmarshal(rb, &res)
			r.Status = res.Status
			if res.Error != nil {
				r.Status += fmt.Sprintf(" %v", res.Error)
			}
			break
		}
	}
	r.RawS = secs(time.Since(t0))
	cpu1, _ := cpuTime(d.pid())
	r.CPUS = secs(cpu1 - cpu0)
	r.PeakRSS = d.peak()
	st := stageTimes(d.eventsFor(name))
	if c, s := st["claimed"], st["submit"]; !c.IsZero() && !s.IsZero() {
		r.UploadS = secs(s.Sub(c))
		r.MiBps = float64(size) / mib / r.UploadS
		r.Ratio = r.Sequential / r.UploadS
	}
	return r, nil
}

// sequentialAholo uploads every photo and video of dir one after another
// with the OUS protocol, the way the vendor's quick start does: MD5 of the
// file, a token, single upload or init + blocks in order, then status
// polls every 200 ms until the file has its URL.
func sequentialAholo(ctx context.Context, api string, hc *http.Client, dir string) (int, error) {
	var files []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			switch strings.ToLower(filepath.Ext(p)) {
			case ".jpg", ".jpeg", ".png", ".mp4", ".mov":
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	hc.Timeout = 10 * time.Minute
	c := &ousClient{api: api, hc: hc}
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := c.upload(ctx, p); err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
	}
	return len(files), nil
}

type ousClient struct {
	api string
	hc  *http.Client
}

type ousEnvelope struct {
	C json.RawMessage `json:"c"`
	D json.RawMessage `json:"d"`
	M any             `json:"m"`
}

func (c *ousClient) do(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var env ousEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: %s", req.URL.Path, body)
	}
	if strings.Trim(string(env.C), `"`) != "0" {
		return fmt.Errorf("%s: code %s: %v", req.URL.Path, env.C, env.M)
	}
	if out != nil && len(env.D) > 0 {
		return json.Unmarshal(env.D, out)
	}
	return nil
}

func (c *ousClient) upload(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, _ := f.Stat()
	size := fi.Size()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))

	// Token, signed the open-platform way.
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sig := md5.Sum([]byte("bench-secret" + "bench-key" + "bench-uid" + ts))
	q := url.Values{"appkey": {"bench-key"}, "timestamp": {ts}, "sign": {hex.EncodeToString(sig[:])}, "appuid": {"bench-uid"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.api+"/upload/token?"+q.Encode(), nil)
	var tok struct {
		OUSToken     string `json:"ousToken"`
		GlobalDomain string `json:"globalDomain"`
		BlockSize    int64  `json:"blockSize"`
	}
	if err := c.do(req, &tok); err != nil {
		return err
	}
	base := tok.GlobalDomain // https://{globalDomain}, as the document says
	if !strings.Contains(base, "://") {
		base = "https://" + base
	}
	send := func(method, p string, q url.Values, fields [][2]string, r io.Reader, n int64, out any) error {
		var body io.Reader
		var ctype string
		if r != nil {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			for _, f := range fields {
				mw.WriteField(f[0], f[1])
			}
			w, _ := mw.CreateFormFile("file", filepath.Base(path))
			if _, err := io.CopyN(w, r, n); err != nil {
				return err
			}
			mw.Close()
			body, ctype = &buf, mw.FormDataContentType()
		}
		u := base + p
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		req, _ := http.NewRequestWithContext(ctx, method, u, body)
		req.Header.Set("ous-token-v2", tok.OUSToken)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return c.do(req, out)
	}
	if size <= tok.BlockSize {
		if err := send(http.MethodPost, "/ous/api/v2/single/upload", nil, [][2]string{{"md5", sum}}, io.NewSectionReader(f, 0, size), size, nil); err != nil {
			return err
		}
	} else {
		blocks := (size + tok.BlockSize - 1) / tok.BlockSize
		var t struct {
			TaskID json.RawMessage `json:"taskId"`
		}
		if err := send(http.MethodPost, "/ous/api/v2/block/upload/init", url.Values{"md5": {sum}, "blocks": {strconv.FormatInt(blocks, 10)},
			"size": {strconv.FormatInt(size, 10)}, "name": {filepath.Base(path)}}, nil, nil, 0, &t); err != nil {
			return err
		}
		id := strings.Trim(string(t.TaskID), `"`)
		for i := int64(1); i <= blocks; i++ {
			off := (i - 1) * tok.BlockSize
			n := min(tok.BlockSize, size-off)
			if err := send(http.MethodPost, "/ous/api/v2/block/upload/part", nil, [][2]string{{"taskId", id}, {"index", strconv.FormatInt(i, 10)}},
				io.NewSectionReader(f, off, n), n, nil); err != nil {
				return err
			}
		}
	}
	for {
		var st struct {
			Status int    `json:"status"`
			URL    string `json:"url"`
		}
		if err := send(http.MethodGet, "/ous/api/v2/upload/status", nil, nil, nil, 0, &st); err != nil {
			return err
		}
		switch st.Status {
		case 5:
			return nil
		case 6, 8:
			return fmt.Errorf("upload failed (status %d)", st.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
