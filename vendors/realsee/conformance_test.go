package realsee_test

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// fake adapts realseetest to the conformance suite.
type fake struct{ s *realseetest.Server }

func (f fake) ExpireAuth()          { f.s.ExpireTokens() }
func (f fake) FailNext(n int)       { f.s.FailNext(n, http.StatusServiceUnavailable) }
func (f fake) FailTasks(fail bool)  { f.s.FailTasks(fail) }
func (f fake) Creates() int         { return len(f.s.Submits()) }
func (f fake) BytesReceived() int64 { return f.s.Storage().Stats().BytesReceived }

func TestConformance(t *testing.T) {
	vendortest.Run(t, vendortest.Harness{
		Setup: func(t *testing.T) (vendors.Vendor, vendortest.Fake, string) {
			s := realseetest.NewServer(realseetest.Options{AppKey: "k", AppSecret: "s", MinPartSize: 64 << 10})
			t.Cleanup(s.Close)
			v := realsee.New(realsee.Config{Endpoint: s.URL, AppKey: "k", AppSecret: "s",
				PartSize: 64 << 10, UploadConcurrency: 3, HTTPClient: &http.Client{Timeout: 30 * time.Second}})
			dir := t.TempDir()
			copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
			return v, fake{s}, dir
		},
	})
}

func copyTree(t *testing.T, src, dst string) {
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
