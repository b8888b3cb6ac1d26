package ops

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scandrop/scandrop/pipeline"
)

// Jobs of a named account are counted under an account label; the
// default account's series keep the labels they always had.
func TestMetricsAccountLabel(t *testing.T) {
	m := NewMonitor(BuildInfo("v", "c"), nil)
	m.Finished("a", &pipeline.Result{Status: "success", Vendor: "realsee"}, "/x")
	m.Finished("b", &pipeline.Result{Status: "success", Vendor: "realsee", Account: "acme"}, "/x")
	m.Finished("c", &pipeline.Result{Status: "success", Vendor: "realsee", Account: "acme"}, "/x")
	var b bytes.Buffer
	if err := m.WriteMetrics(&b, nil); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	checkExposition(t, text)
	for _, want := range []string{
		`scandrop_jobs_finished_total{vendor="realsee",status="success"} 1`,
		`scandrop_jobs_finished_total{vendor="realsee",status="success",account="acme"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s:\n%s", want, text)
		}
	}
}

// The page, the JSON and the text name a watch's account (and escape it
// like everything else shown); a watch of the default account names none.
func TestStatusShowsAccount(t *testing.T) {
	acme, own := watchDir(t), watchDir(t)
	r := reporter()
	rep := r.Report(context.Background(), []Source{{Dir: acme, Account: "acme<b>"}, {Dir: own}})
	if rep.Watches[0].Account != "acme<b>" || rep.Watches[1].Account != "" {
		t.Fatalf("accounts: %q, %q", rep.Watches[0].Account, rep.Watches[1].Account)
	}
	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "watch "+acme+" (account acme<b>)\n") || !strings.Contains(text.String(), "watch "+own+"\n") {
		t.Errorf("text:\n%s", text.String())
	}
	srv := httptest.NewServer((&Server{Monitor: NewMonitor(nil, nil), Report: func(context.Context) Report { return rep }}).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `<span class="meta">account acme&lt;b&gt;</span>`) {
		t.Errorf("the page does not name the account:\n%s", b)
	}
	if strings.Count(string(b), "account ") != 1 {
		t.Errorf("the page names an account %d times, want once", strings.Count(string(b), "account "))
	}
}
