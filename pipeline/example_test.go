package pipeline_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
)

// echoVendor is the smallest vendors.Vendor: a drop is a folder with an
// echo.txt; its task succeeds at the first poll. A real vendor speaks to
// its API in Upload, Submit and Poll, and records what it must remember
// across a crash in the journal.
type echoVendor struct{}

func (echoVendor) Name() string   { return "echo" }
func (echoVendor) Marker() string { return "echo.txt" }
func (echoVendor) Open(ctx context.Context, dir string) (vendors.Job, error) {
	b, err := os.ReadFile(filepath.Join(dir, "echo.txt"))
	if err != nil || len(b) == 0 {
		return nil, vendors.E(vendors.Invalid, "echo", "echo.txt: empty or unreadable")
	}
	return echoJob{}, nil
}

type echoJob struct{}

func (echoJob) Package(ctx context.Context, j vendors.Journal) error { return nil }
func (echoJob) Upload(ctx context.Context, j vendors.Journal, p vendors.Progress) error {
	return j.Store("echo.uploaded", true)
}
func (echoJob) Submit(ctx context.Context, j vendors.Journal) (vendors.IDs, error) {
	return vendors.IDs{"task": "t-1"}, nil
}
func (echoJob) Poll(ctx context.Context, ids vendors.IDs) (vendors.Status, error) {
	return vendors.Status{State: vendors.Succeeded, Detail: "done", VRURL: "https://vr.example/" + ids["task"]}, nil
}

// One job, run in place as `scandrop process` does: validate, package,
// upload, submit, wait; the answer is written into the folder as
// result.json, and the journal in .scandrop/ lets a restart resume it.
func ExamplePipeline_Process() {
	dir, _ := os.MkdirTemp("", "job")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "echo.txt"), []byte("hello"), 0o644)

	p := pipeline.New(pipeline.Options{
		Vendors: []vendors.Vendor{echoVendor{}},
		Logger:  slog.New(slog.DiscardHandler),
	})
	res, err := p.Process(context.Background(), dir, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.Vendor, res.VRURL, res.VendorIDs["task"])
	if _, err := os.Stat(filepath.Join(dir, pipeline.ResultFile)); err == nil {
		fmt.Println("result.json written")
	}
	// Output:
	// success echo https://vr.example/t-1 t-1
	// result.json written
}

// A drop that is wrong fails at once, at validate, saying why in
// result.json; moving the folder back unchanged would not help.
func ExamplePipeline_Process_invalid() {
	dir, _ := os.MkdirTemp("", "job")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "echo.txt"), nil, 0o644) // the marker, but empty

	p := pipeline.New(pipeline.Options{Vendors: []vendors.Vendor{echoVendor{}}, Logger: slog.New(slog.DiscardHandler)})
	res, _ := p.Process(context.Background(), dir, false)
	fmt.Println(res.Status, res.Error.Stage, res.Error.Kind, res.Error.Retryable)
	fmt.Println(res.Error.Message)
	// Output:
	// failed validate invalid false
	// echo: echo.txt: empty or unreadable
}
