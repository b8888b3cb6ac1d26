package aholo

import (
	"context"
	"testing"

	"github.com/scandrop/scandrop/vendors"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/vendortest"
)

// A service that offers only what the quickstart shows (single upload and
// status) still takes a file larger than its block size, in one request.
func TestNoBlockUploadFallsBackToSingle(t *testing.T) {
	const size = 3 << 20
	srv := newServer(t, aholotest.Options{BlockSize: 1 << 20, SingleUploadOnly: true})
	dir := bigDrop(t, size)
	ctx := context.Background()
	job, err := newVendor(srv).Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := runAll(t, ctx, job, vendortest.NewMemJournal()); st.State != vendors.Succeeded {
		t.Fatalf("task %v", st)
	}
	if n := srv.Calls("/ous/api/v2/single/upload"); n != 2 {
		t.Errorf("%d single uploads, want 2 (the cover and the video)", n)
	}
}
