package aholo

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// fake adapts aholotest.Server to the conformance suite.
type fake struct{ *aholotest.Server }

func (f fake) ExpireAuth()    { f.ExpireTokens() }
func (f fake) FailNext(n int) { f.Server.FailNext(n, http.StatusServiceUnavailable) }

func newServer(t testing.TB, opts aholotest.Options) *aholotest.Server {
	srv := aholotest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

func newVendor(srv *aholotest.Server, mod ...func(*Config)) *Vendor {
	cfg := Config{
		Endpoint: srv.URL, AppKey: "test-key", AppSecret: "test-secret", AppUID: "test-uid",
		Clock: fastClock{}, HTTPClient: srv.Client(),
	}
	for _, m := range mod {
		m(&cfg)
	}
	return New(cfg)
}

// chairDrop is a small drop mixing photos and a video: with a 64 KiB block
// size the video goes through block upload and the photos through single.
func chairDrop(t testing.TB) string {
	dir := writeFiles(t, map[string][]byte{
		Marker:           []byte("name: chair-scan\nquality: HIGH\ncover: images/002.jpg\n"),
		"images/001.jpg": testmedia.JPEG(320, 240, 1),
		"images/002.jpg": testmedia.JPEG(320, 240, 2),
		"images/003.png": testmedia.PNG(160, 120, 3),
	})
	if err := testmedia.WriteMP4(filepath.Join(dir, "walk.mp4"), 640, 360, 2500, 200<<10); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestConformance(t *testing.T) {
	vendortest.Run(t, vendortest.Harness{
		Setup: func(t *testing.T) (vendors.Vendor, vendortest.Fake, string) {
			srv := newServer(t, aholotest.Options{BlockSize: 64 << 10})
			return newVendor(srv, func(c *Config) { c.DownloadAssets = true }), fake{srv}, chairDrop(t)
		},
	})
}

// TestConformanceDomainScheme runs the suite with OUS's domain given with
// a scheme, and the real clock.
func TestConformanceDomainScheme(t *testing.T) {
	if testing.Short() {
		t.Skip("real 200 ms status polls")
	}
	vendortest.Run(t, vendortest.Harness{
		Setup: func(t *testing.T) (vendors.Vendor, vendortest.Fake, string) {
			srv := newServer(t, aholotest.Options{BlockSize: 64 << 10, DomainScheme: true})
			return newVendor(srv, func(c *Config) { c.Clock = nil }), fake{srv}, chairDrop(t)
		},
	})
}

// bigDrop holds one photo and an MP4 of exactly size bytes.
func bigDrop(t testing.TB, size int64) (dir string) {
	dir = writeFiles(t, map[string][]byte{
		Marker:      []byte("cover: cover.jpg\n"),
		"cover.jpg": testmedia.JPEG(320, 240, 1),
	})
	probe := filepath.Join(t.TempDir(), "probe.mp4")
	if err := testmedia.WriteMP4(probe, 1920, 1080, 60000, 0); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(probe)
	if err := testmedia.WriteMP4(filepath.Join(dir, "walk.mp4"), 1920, 1080, 60000, size-fi.Size()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runAll(t *testing.T, ctx context.Context, job vendors.Job, j vendors.Journal) vendors.Status {
	t.Helper()
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := job.Upload(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	ids, err := job.Submit(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		st, err := job.Poll(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != vendors.Running {
			return st
		}
	}
	t.Fatal("task did not end")
	return vendors.Status{}
}

func TestBlockUpload20MiB(t *testing.T) {
	const size = 20 << 20
	srv := newServer(t, aholotest.Options{BlockSize: 4 << 20})
	dir := bigDrop(t, size)
	ctx := context.Background()
	job, err := newVendor(srv).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := runAll(t, ctx, job, vendortest.NewMemJournal()); st.State != vendors.Succeeded {
		t.Fatalf("task %v", st)
	}
	cover := int64(len(testmedia.JPEG(320, 240, 1)))
	if got := srv.BytesReceived(); got != size+cover {
		t.Errorf("server received %d bytes, want %d", got, size+cover)
	}
	if n := srv.Calls("/ous/api/v2/block/upload/part"); n != 5 {
		t.Errorf("%d block parts sent, want 5", n)
	}
}

// TestResumeInterruptedBlockUpload stops an upload after two blocks are
// stored, as a crash would, and checks that a new Job sends only the rest.
func TestResumeInterruptedBlockUpload(t *testing.T) {
	const size, block = 20 << 20, 4 << 20
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stored atomic.Int32
	srv := newServer(t, aholotest.Options{BlockSize: block, OnBlock: func(string, int) {
		if stored.Add(1) == 2 {
			cancel()
		}
	}})
	dir := bigDrop(t, size)
	v := newVendor(srv)
	j := vendortest.NewMemJournal()

	job, err := v.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	err = job.Upload(ctx, j, nil)
	if err == nil || vendors.KindOf(err) != vendors.Transient {
		t.Fatalf("interrupted Upload: %v (kind %v), want a transient error", err, vendors.KindOf(err))
	}
	srv.Settle() // the server may still be reading blocks the client gave up on
	first := srv.BytesReceived()

	// A restart: a new Job, the same journal.
	ctx = context.Background()
	job, err = v.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var md5 string
	var rec packageRecord
	j.Load(keyPackage, &rec)
	uploads := map[string]uploadRecord{}
	j.Load(keyUploads, &uploads)
	coverLeft := int64(0)
	for _, f := range rec.Files {
		if f.Name == "walk.mp4" {
			md5 = f.MD5
		} else if uploads[f.Name].URL == "" {
			coverLeft = f.Size
		}
	}
	held := srv.BlocksHeld(md5)
	if held < 2 {
		t.Fatalf("server holds %d blocks, want at least 2", held)
	}
	prog := &vendortest.ProgressRecorder{}
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := job.Upload(ctx, j, prog); err != nil {
		t.Fatal(err)
	}
	resent := srv.BytesReceived() - first
	want := int64(5-held)*block + coverLeft
	t.Logf("first run: %d bytes received (blocks held %d of 5); resumed run re-sent %d bytes of %d (%.0f%%); client counted %d",
		first, held, resent, size, 100*float64(resent)/size, job.(*Job).sent.Load())
	if resent != want {
		t.Errorf("resumed Upload sent %d bytes, want %d (the %d missing blocks)", resent, want, 5-held)
	}
	if got := job.(*Job).sent.Load(); got != want {
		t.Errorf("client counted %d bytes sent, want %d", got, want)
	}
	if !prog.Complete() {
		d, tot := prog.Last()
		t.Errorf("progress ended at %d of %d", d, tot)
	}
	prog.Check(t)
	ids, err := job.Submit(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	if ids["project_id"] == "" || srv.Creates() != 1 {
		t.Errorf("ids %v, creates %d", ids, srv.Creates())
	}
}

// TestUploadTokenExpiresMidFile expires every token while a block upload
// is under way: the client gets a new token, calls init again and sends
// only the blocks that are missing.
func TestUploadTokenExpiresMidFile(t *testing.T) {
	const size = 20 << 20
	var srv *aholotest.Server
	var parts atomic.Int32
	srv = newServer(t, aholotest.Options{BlockSize: 4 << 20, Hook: func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/block/upload/part") && parts.Add(1) == 3 {
			srv.ExpireTokens()
		}
	}})
	dir := bigDrop(t, size)
	ctx := context.Background()
	job, err := newVendor(srv).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := runAll(t, ctx, job, vendortest.NewMemJournal()); st.State != vendors.Succeeded {
		t.Fatalf("task %v", st)
	}
	if n := srv.Calls("/ous/api/v2/block/upload/init"); n != 2 {
		t.Errorf("init called %d times, want 2", n)
	}
	// The photo may be sent twice: if its token expired while its status
	// was being polled, only a new upload can tell its URL.
	cover := int64(len(testmedia.JPEG(320, 240, 1)))
	if got := srv.BytesReceived(); got != size+cover && got != size+2*cover {
		t.Errorf("server received %d file bytes, want %d: blocks were sent twice", got, size+cover)
	}
}

func TestLargeVideo200MiB(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MiB through block upload")
	}
	const size = 200 << 20
	srv := newServer(t, aholotest.Options{BlockSize: 4 << 20})
	dir := bigDrop(t, size)
	ctx := context.Background()
	start := time.Now()
	job, err := newVendor(srv).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := runAll(t, ctx, job, vendortest.NewMemJournal()); st.State != vendors.Succeeded {
		t.Fatalf("task %v", st)
	}
	t.Logf("200 MiB video: %v, %d parts", time.Since(start), srv.Calls("/ous/api/v2/block/upload/part"))
	if n := srv.Calls("/ous/api/v2/block/upload/part"); n != 50 {
		t.Errorf("%d parts, want 50", n)
	}
}

func TestFinishDownloadsAssets(t *testing.T) {
	srv := newServer(t, aholotest.Options{BlockSize: 64 << 10, AssetSize: 5000})
	dir := chairDrop(t)
	ctx := context.Background()
	job, err := newVendor(srv, func(c *Config) { c.DownloadAssets = true }).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := vendortest.NewMemJournal()
	st := runAll(t, ctx, job, j)
	if st.State != vendors.Succeeded || len(st.Assets) != 2 || st.Assets["sog"] != "" {
		t.Fatalf("status %+v: want ply and spz (no sog without upload_sog)", st)
	}
	fin := job.(vendors.Finisher)
	for range 2 {
		if err := fin.Finish(ctx, j, &st); err != nil {
			t.Fatal(err)
		}
	}
	for _, ext := range []string{"ply", "spz"} {
		got, err := os.ReadFile(filepath.Join(dir, "assets", "chair-scan."+ext))
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(st.Assets[ext])
		if !bytes.Equal(got, aholotest.AssetBytes(name, 5000)) {
			t.Errorf("%s: content differs", ext)
		}
		if n := srv.Calls("/assets/" + name); n != 1 {
			t.Errorf("%s downloaded %d times, want once", ext, n)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "assets"))
	if len(ents) != 2 {
		t.Errorf("assets/ holds %d entries, want 2 (no temporary files left)", len(ents))
	}

	// A fresh Job with an empty journal finds the files in place and keeps them.
	job2, _ := newVendor(srv, func(c *Config) { c.DownloadAssets = true }).Open(ctx, dir)
	if err := job2.(vendors.Finisher).Finish(ctx, vendortest.NewMemJournal(), &st); err != nil {
		t.Fatal(err)
	}

	// download_assets: false in recon.yaml wins over the config.
	os.WriteFile(filepath.Join(dir, Marker), []byte("download_assets: false\n"), 0o644)
	os.RemoveAll(filepath.Join(dir, "assets"))
	job3, err := newVendor(srv, func(c *Config) { c.DownloadAssets = true }).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := job3.(vendors.Finisher).Finish(ctx, vendortest.NewMemJournal(), &st); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "assets")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("assets downloaded despite download_assets: false")
	}
}

func TestPollStatuses(t *testing.T) {
	srv := newServer(t, aholotest.Options{ProcessingPolls: 3})
	dir, j := uploaded(t, srv)
	ctx := context.Background()
	job, _ := newVendor(srv).Open(ctx, dir)
	ids, err := job.Submit(ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	poll := func() {
		st, err := job.Poll(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st.State.String()+"/"+st.Detail)
	}
	poll()
	srv.HoldTasks(true)
	poll()
	srv.HoldTasks(false)
	poll()
	poll()
	poll()
	want := []string{"running/preprocessing", "running/preprocessing", "running/queued", "running/running", "success/success"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("statuses %q, want %q", got, want)
	}
	if _, err := job.Poll(ctx, vendors.IDs{}); vendors.KindOf(err) != vendors.Other {
		t.Errorf("Poll without a project id: %v", err)
	}
}

// uploaded returns a job whose resources are uploaded to srv, and its journal.
func uploaded(t *testing.T, srv *aholotest.Server) (string, *vendortest.MemJournal) {
	t.Helper()
	dir := writeFiles(t, map[string][]byte{Marker: nil, "001.jpg": testmedia.JPEG(64, 48, 1)})
	ctx := context.Background()
	job, err := newVendor(srv).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := vendortest.NewMemJournal()
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := job.Upload(ctx, j, nil); err != nil {
		t.Fatal(err)
	}
	return dir, j
}

// TestSubmitErrors checks the kinds and SafeToRetry of every way a submit
// can fail.
func TestSubmitErrors(t *testing.T) {
	srv := newServer(t, aholotest.Options{})
	dir, j := uploaded(t, srv)
	ctx := context.Background()
	submit := func(cfg Config) error {
		cfg.Clock = fastClock{}
		job, err := New(cfg).Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		_, err = job.Submit(ctx, j)
		return err
	}
	creds := func(endpoint string) Config {
		return Config{Endpoint: endpoint, AppKey: "test-key", AppSecret: "test-secret", AppUID: "test-uid"}
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	}))
	defer hangup.Close()
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>502 Bad Gateway</html>", http.StatusBadGateway)
	}))
	defer gateway.Close()

	wrongSecret := creds(srv.URL)
	wrongSecret.AppSecret = "not-the-secret"
	stale := creds(srv.URL)
	stale.Signer = OpenAPISigner{AppKey: "test-key", AppSecret: "test-secret", AppUID: "test-uid",
		Clock: fixedClock{ms: time.Now().Add(-11 * time.Minute).UnixMilli()}}
	noUID := creds(srv.URL)
	noUID.AppUID = ""

	tests := []struct {
		name string
		cfg  Config
		kind vendors.Kind
		safe bool
		msg  string
	}{
		{"wrong secret", wrongSecret, vendors.Auth, true, "sign error"},
		{"stale timestamp", stale, vendors.Auth, true, "timestamp expired"},
		{"no appuid", noUID, vendors.Auth, true, "appuid is required"},
		{"connection refused", creds(closed.URL + "/v2/aholo"), vendors.Transient, true, "connect"},
		{"hang-up after sending", creds(hangup.URL + "/v2/aholo"), vendors.Unknown, false, "may have acted on it"}, // EOF or a closed connection, as the hang-up races the body
		{"gateway error page", creds(gateway.URL + "/v2/aholo"), vendors.Unknown, false, "HTTP 502"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := submit(tt.cfg)
			if err == nil {
				t.Fatal("Submit succeeded")
			}
			if k := vendors.KindOf(err); k != tt.kind || vendors.SafeToRetry(err) != tt.safe || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("%v: kind %v safe %v; want %v safe %v containing %q", err, k, vendors.SafeToRetry(err), tt.kind, tt.safe, tt.msg)
			}
			for _, secret := range []string{"test-secret", "not-the-secret", "sign="} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals %q", err, secret)
				}
			}
		})
	}
	if srv.Creates() != 0 {
		t.Errorf("%d projects created", srv.Creates())
	}
	// The rejected payload: a business error, safe to retry.
	job, _ := newVendor(srv).Open(ctx, dir)
	bad := vendortest.NewMemJournal()
	var rec packageRecord
	j.Load(keyPackage, &rec)
	rec.Files[0].Width = 99 // meta that does not match the uploaded photo
	bad.Store(keyPackage, rec)
	var ups map[string]uploadRecord
	j.Load(keyUploads, &ups)
	bad.Store(keyUploads, ups)
	job.(*Job).files[0].Width = 99
	_, err := job.Submit(ctx, bad)
	if vendors.KindOf(err) != vendors.Rejected || !vendors.SafeToRetry(err) || !strings.Contains(err.Error(), "meta 99x48 does not match the file's 64x48") {
		t.Errorf("bad meta: %v (kind %v)", err, vendors.KindOf(err))
	}
}

func TestUploadAuthError(t *testing.T) {
	srv := newServer(t, aholotest.Options{})
	dir := writeFiles(t, map[string][]byte{Marker: nil, "001.jpg": testmedia.JPEG(64, 48, 1)})
	ctx := context.Background()
	job, _ := newVendor(srv, func(c *Config) { c.AppSecret = "wrong" }).Open(ctx, dir)
	j := vendortest.NewMemJournal()
	job.Package(ctx, j)
	err := job.Upload(ctx, j, nil)
	if vendors.KindOf(err) != vendors.Auth || !strings.Contains(err.Error(), "sign error") {
		t.Errorf("Upload with a wrong secret: %v (kind %v), want auth", err, vendors.KindOf(err))
	}
}

// TestUploadRefusesChangedFile: a file swapped after Package is not sent
// under the old md5.
func TestUploadRefusesChangedFile(t *testing.T) {
	srv := newServer(t, aholotest.Options{})
	dir := writeFiles(t, map[string][]byte{Marker: nil, "001.jpg": testmedia.JPEG(64, 48, 1)})
	ctx := context.Background()
	job, _ := newVendor(srv).Open(ctx, dir)
	j := vendortest.NewMemJournal()
	if err := job.Package(ctx, j); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "001.jpg"), testmedia.JPEG(320, 240, 1), 0o644)
	err := job.Upload(ctx, j, nil)
	if vendors.KindOf(err) != vendors.Invalid || !strings.Contains(err.Error(), "001.jpg: changed after it was checked") {
		t.Errorf("Upload of a changed file: %v (kind %v)", err, vendors.KindOf(err))
	}
}

var updateExamples = flag.Bool("update-examples", false, "regenerate the photos of examples/aholo/chair")

// TestExampleChair keeps the bundled example valid and working end to end.
// go test ./vendors/aholo -run ExampleChair -update-examples rewrites its photos.
func TestExampleChair(t *testing.T) {
	src := filepath.Join("..", "..", "examples", "aholo", "chair")
	if *updateExamples {
		for n := 1; n <= 4; n++ {
			p := filepath.Join(src, "images", fmt.Sprintf("%03d.jpg", n))
			if err := os.WriteFile(p, testmedia.JPEG(320, 240, n), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	job, err := New(Config{}).Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	jb := job.(*Job)
	if len(jb.files) != 4 {
		t.Errorf("%d resources, want 4", len(jb.files))
	}
	for _, f := range jb.files {
		if f.Size >= 30<<10 || f.Width != 320 || f.Height != 240 {
			t.Errorf("%s: %d bytes, %dx%d; want < 30 KB, 320x240", f.Name, f.Size, f.Width, f.Height)
		}
	}

	dir := filepath.Join(t.TempDir(), "chair")
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, aholotest.Options{})
	job, err = newVendor(srv).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	j := vendortest.NewMemJournal()
	st := runAll(t, ctx, job, j)
	if st.State != vendors.Succeeded {
		t.Fatalf("example ended %+v", st)
	}
	if err := job.(vendors.Finisher).Finish(ctx, j, &st); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "assets", "chair-scan.ply")); err != nil {
		t.Errorf("example's download_assets: true did not download: %v", err)
	}
}
