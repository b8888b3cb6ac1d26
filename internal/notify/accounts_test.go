package notify

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/pipeline"
)

// A command hook is told the job's account in SCANDROP_ACCOUNT, empty for
// the default.
func TestCommandAccountEnv(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	out := filepath.Join(t.TempDir(), "out")
	n := NewNotifier(config.Notify{Commands: []config.Command{
		{Run: []string{sh, "-c", `printf '%s=[%s]\n' "$SCANDROP_FOLDER" "${SCANDROP_ACCOUNT-unset}" >> ` + out},
			Events: []string{"done", "failed"}, Timeout: config.Duration(10 * time.Second)},
	}}, NotifierOptions{Logger: slog.New(slog.DiscardHandler)})
	for _, res := range []*pipeline.Result{
		{Status: "success", Vendor: "realsee", Folder: "acme-job", Account: "acme"},
		{Status: "success", Vendor: "realsee", Folder: "own-job"},
	} {
		n.Finished(res.Folder, res, finishedJob(t, res))
	}
	n.Close(context.Background())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acme-job=[acme]\n", "own-job=[]\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("hooks saw %q, want a line %q", b, want)
		}
	}
}
