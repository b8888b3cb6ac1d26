package realsee_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// TestHostileAnswers: what the gateway answers is checked before it is
// written or used. A file token whose upload endpoint is plain http to a
// host other than this machine is refused before any byte (or the
// temporary key and session token) is sent; a task_code or project_id
// outside the safe charset fails the submit; a vr_url that is not https or
// is longer than 2 KiB fails the poll. Each is Rejected and names the field
// or host; none becomes a success.
func TestHostileAnswers(t *testing.T) {
	for _, c := range []struct {
		name string
		opts realseetest.Options
		want string
	}{
		{"s3-http-remote", realseetest.Options{S3Endpoint: "http://192.0.2.7:9000", AccessKey: "AK", SecretKey: "SK"}, "http://192.0.2.7:9000"},
		{"s3-http-name", realseetest.Options{S3Endpoint: "http://cos.example.com", AccessKey: "AK", SecretKey: "SK"}, "cos.example.com"},
		{"task-dotdot", realseetest.Options{TaskCode: "../../etc/passwd"}, "task_code"},
		{"project-bidi", realseetest.Options{ProjectID: "pano-\u202eexe"}, "project_id"},
		{"vr-javascript", realseetest.Options{VRURL: "javascript:alert(document.cookie)"}, "vr_url"},
		{"vr-http", realseetest.Options{VRURL: "http://realsee.cn/abc"}, `scheme "http"`},
		{"vr-900k", realseetest.Options{VRURL: "https://realsee.cn/" + strings.Repeat("a", 900<<10)}, "a link of 921619 bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			o.AppKey, o.AppSecret, o.ProcessingPolls = "k", "s", -1
			s := realseetest.NewServer(o)
			t.Cleanup(s.Close)
			v := realsee.New(realsee.Config{Endpoint: s.URL, AppKey: "k", AppSecret: "s",
				HTTPClient: &http.Client{Timeout: 30 * time.Second}, Clock: instantClock{}})
			dir := t.TempDir()
			copyTree(t, "../../examples/realsee/nave-2026-11-20", dir)
			ctx := context.Background()
			job, err := v.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			jr := vendortest.NewMemJournal()
			err = job.Package(ctx, jr)
			if err == nil {
				err = job.Upload(ctx, jr, nil)
			}
			var ids vendors.IDs
			if err == nil {
				ids, err = job.Submit(ctx, jr)
			}
			for i := 0; err == nil && i < 5; i++ {
				var st vendors.Status
				if st, err = job.Poll(ctx, ids); err == nil && st.State != vendors.Running {
					t.Fatalf("poll: %+v, want an error", st)
				}
			}
			if vendors.KindOf(err) != vendors.Rejected || !strings.Contains(fmt.Sprint(err), c.want) || len(fmt.Sprint(err)) > 1024 {
				t.Errorf("got %.300v (kind %v), want a short Rejected error containing %q", err, vendors.KindOf(err), c.want)
			}
		})
	}
}
