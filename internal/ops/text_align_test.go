package ops

import (
	"strings"
	"testing"
)

// A job's retrying and orphaned lines do not split the processing table:
// the jobs below them stay aligned with those above.
func TestWriteTextAlignsAfterDetailLines(t *testing.T) {
	rep := Report{Watches: []Watch{{Dir: "/w", Processing: []Job{
		{Folder: "a-much-longer-folder-name", Vendor: "realsee", Stage: "upload", Retrying: "transient", RetryStage: "upload", Orphaned: true, Orphan: "orphaned: no scandrop runs it"},
		{Folder: "b", Vendor: "aholo", Stage: "wait", Error: "something"},
		{Folder: "c", Vendor: "realsee", Stage: "wait"},
	}}}}
	var b strings.Builder
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for _, line := range strings.Split(b.String(), "\n") {
		for _, v := range []string{"VENDOR", "realsee", "aholo"} {
			if i := strings.Index(line, v); i >= 0 && !strings.Contains(line, "retrying") {
				col[line[:5]] = i
			}
		}
	}
	first := -1
	for k, i := range col {
		if first < 0 {
			first = i
		}
		if i != first {
			t.Errorf("vendor column of %q at %d, others at %d:\n%s", k, i, first, b.String())
		}
	}
	if len(col) != 4 {
		t.Errorf("found %d table lines (%v):\n%s", len(col), col, b.String())
	}
}
