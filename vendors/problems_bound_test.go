package vendors

import (
	"strings"
	"testing"
)

// A hostile drop can produce any number of problems, each of any size:
// the list keeps MaxProblems, counts the rest, and bounds each one.
func TestProblemsBounded(t *testing.T) {
	var ps Problems
	const n = 300_000
	for i := range n {
		ps.Add("manifest.json", "scan id %q is listed twice", strings.Repeat("x", i%7))
	}
	if len(ps) != MaxProblems+1 {
		t.Fatalf("kept %d problems, want %d and a summary", len(ps), MaxProblems)
	}
	if ps.Count() != n || ps.Omitted() != n-MaxProblems {
		t.Errorf("Count = %d, Omitted = %d; want %d, %d", ps.Count(), ps.Omitted(), n, n-MaxProblems)
	}
	if last := ps[len(ps)-1].Message; !strings.Contains(last, "and 299950 more problems") {
		t.Errorf("summary = %q", last)
	}
	if l := len(ps.Error()); l > 64<<10 {
		t.Errorf("Error() is %d bytes", l)
	}

	var big Problems
	for range 60 {
		big.Add(strings.Repeat("deep/", 1000)+"x.jpg", "id %s", strings.Repeat("y", 1<<20))
	}
	for _, p := range big[:MaxProblems] {
		if len(p.Message) > MaxProblemMessage || len(p.File) > MaxProblemFile {
			t.Fatalf("problem not bounded: file %d bytes, message %d bytes", len(p.File), len(p.Message))
		}
		if !strings.HasSuffix(p.Message, "bytes]") || !strings.Contains(p.File, "/…/") || !strings.HasSuffix(p.File, "deep/x.jpg") {
			t.Fatalf("cut without a marker: %q / %q", p.File, p.Message[len(p.Message)-40:])
		}
	}

	var merged Problems
	merged.Add("recon.yaml", "bad")
	merged.Merge(ps)
	if merged.Count() != n+1 || len(merged) != MaxProblems+1 {
		t.Errorf("merged: Count %d len %d", merged.Count(), len(merged))
	}
}

func TestErrorMessageBounded(t *testing.T) {
	e := E(Rejected, "realsee: submit", "the gateway answered: "+strings.Repeat("<html>", 1<<20))
	if l := len(e.Error()); l > MaxErrorMessage {
		t.Errorf("Error() is %d bytes", l)
	}
	if !strings.HasPrefix(e.Error(), "realsee: submit: the gateway answered: <html>") || !strings.HasSuffix(e.Error(), "bytes]") {
		t.Errorf("Error() = %.80q…", e.Error())
	}
}
