package realsee_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/testkit/minis3"
	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// A store that offers only PutObject (as a minimal S3-compatible server,
// or a fake written from the vendor's document, may): archives larger
// than a part fall back to one streamed PUT.
func TestUploadWithoutMultipart(t *testing.T) {
	store := minis3.NewServer(minis3.Options{AccessKey: "AK", SecretKey: "SK", Region: "ap-northeast-1", Buckets: []string{"vrlab-private"}})
	defer store.Close()
	target, _ := url.Parse(store.URL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var refused int
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.URL.Query()["uploads"]; ok {
			refused++
			w.WriteHeader(http.StatusNotImplemented)
			w.Write([]byte(`<Error><Code>NotImplemented</Code><Message>multipart uploads are not supported</Message></Error>`))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	gw := realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s", S3Endpoint: front.URL,
		Bucket: "vrlab-private", Region: "ap-northeast-1", AccessKey: "AK", SecretKey: "SK"})
	defer gw.Close()
	v := realsee.New(realsee.Config{Endpoint: gw.URL, AppKey: "k", AppSecret: "s", PartSize: 32 << 10,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	ctx := context.Background()
	job, jr := uploadExample(t, v)
	ids, err := job.Submit(ctx, jr)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		st, err := job.Poll(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == vendors.Succeeded {
			break
		}
		if st.State == vendors.Failed || i > 20 {
			t.Fatalf("task ended %v", st)
		}
	}
	if refused != 1 {
		t.Fatalf("multipart was tried %d times, want once before falling back", refused)
	}
}

// The file token names a region the store does not use (an S3-compatible
// store configured for us-east-1, say): the store's answer names the one it
// expects, and the upload goes on with it.
func TestUploadLearnsRegionFromStore(t *testing.T) {
	store := minis3.NewServer(minis3.Options{AccessKey: "AK", SecretKey: "SK", Region: "us-east-1", Buckets: []string{"vrlab-private"}})
	defer store.Close()
	gw := realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s", S3Endpoint: store.URL(),
		Bucket: "vrlab-private", Region: "ap-northeast-1", AccessKey: "AK", SecretKey: "SK"})
	defer gw.Close()
	v := realsee.New(realsee.Config{Endpoint: gw.URL, AppKey: "k", AppSecret: "s", HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	_, jr := uploadExample(t, v)
	var up struct {
		Key     string
		Done    bool
		Storage struct{ Region string }
	}
	jr.Load("realsee.upload", &up)
	if _, ok := store.Object("vrlab-private", up.Key); !ok || !up.Done || up.Storage.Region != "us-east-1" {
		t.Fatalf("upload state %+v; object stored: %v", up, ok)
	}
}

// uploadExample opens a copy of the bundled example with v, packages it and
// uploads it.
func uploadExample(t *testing.T, v *realsee.Vendor) (vendors.Job, *vendortest.MemJournal) {
	t.Helper()
	dir := t.TempDir()
	copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
	ctx := context.Background()
	jr := vendortest.NewMemJournal()
	job, err := v.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := job.Package(ctx, jr); err != nil {
		t.Fatal(err)
	}
	if err := job.Upload(ctx, jr, nil); err != nil {
		t.Fatal(err)
	}
	return job, jr
}
