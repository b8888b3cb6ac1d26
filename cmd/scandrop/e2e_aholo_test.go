package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scandrop/scandrop/examples"
	"github.com/scandrop/scandrop/internal/testkit/testmedia"
	"github.com/scandrop/scandrop/vendors/aholo/aholotest"
	"github.com/scandrop/scandrop/vendors/realsee/realseetest"
)

const (
	aholoKey    = "aholo-key"
	aholoSecret = "aholo-secret-DO-NOT-LOG"
	aholoUID    = "uid-42"
)

// aholoHarness is the Realsee harness with an Aholo fake and section added.
func aholoHarness(t *testing.T, opts aholotest.Options) (*harness, *aholotest.Server) {
	h := newHarness(t, realseetest.Options{})
	opts.AppKey, opts.AppSecret, opts.AppUID = aholoKey, aholoSecret, aholoUID
	ah := aholotest.NewServer(opts)
	t.Cleanup(ah.Close)
	h.writeConfig(fmt.Sprintf(`aholo:
  endpoint: %s
  app_key: %s
  app_secret: %s
  appuid: %s
  poll_interval: 100ms
  timeout: 1m
`, ah.URL, aholoKey, aholoSecret, aholoUID))
	return h, ah
}

func TestE2EAholoExample(t *testing.T) {
	h, ah := aholoHarness(t, aholotest.Options{})
	h.start()
	files := map[string][]byte{}
	for _, n := range []string{"recon.yaml", "images/001.jpg", "images/002.jpg", "images/003.jpg", "images/004.jpg"} {
		b, err := examples.FS.ReadFile("aholo/chair/" + n)
		if err != nil {
			t.Fatal(err)
		}
		files[n] = b
	}
	h.drop("chair", files)
	res, where := h.waitResult("chair", 30*time.Second)
	if where != "done" || !res.Success() || res.Vendor != "aholo" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if res.Assets["ply"] == "" || res.Assets["spz"] == "" || res.VendorIDs["project_id"] == "" {
		t.Fatalf("result: %+v", res)
	}
	if ah.Creates() != 1 {
		t.Fatalf("%d creates, want 1", ah.Creates())
	}
	// recon.yaml asks for the assets to be downloaded into the folder.
	ents, _ := os.ReadDir(h.watch("done", "chair", "assets"))
	if len(ents) < 2 {
		t.Fatalf("assets/ holds %d files, want ply and spz", len(ents))
	}
	if strings.Contains(h.logText(), aholoSecret) {
		t.Error("the Aholo secret appears in the log")
	}
}

// A video larger than a block goes through block upload; killing the
// daemon in the middle of it and starting again sends only the missing
// blocks.
func TestE2EAholoKillDuringBlockUpload(t *testing.T) {
	const blockSize = 1 << 20
	var (
		mu     sync.Mutex
		blocks int
	)
	killAfter := make(chan struct{})
	h, ah := aholoHarness(t, aholotest.Options{BlockSize: blockSize, OnBlock: func(md5 string, index int) {
		mu.Lock()
		defer mu.Unlock()
		blocks++
		if blocks == 6 {
			close(killAfter)
		}
	}})
	proc := h.start()

	dir := t.TempDir()
	video := filepath.Join(dir, "walk.mp4")
	if err := testmedia.WriteMP4(video, 1920, 1080, 12_000, 20<<20); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(video)
	if err != nil {
		t.Fatal(err)
	}
	h.drop("walkaround", map[string][]byte{
		"recon.yaml":     []byte("scene: space\ncover: cover.jpg\n"),
		"cover.jpg":      testmedia.JPEG(640, 480, 1),
		"video/walk.mp4": b,
	})
	select {
	case <-killAfter:
	case <-time.After(30 * time.Second):
		t.Fatal("block upload did not start")
	}
	h.kill(proc)
	sentBefore := ah.BytesReceived()
	h.start()
	res, where := h.waitResult("walkaround", 60*time.Second)
	if where != "done" {
		t.Fatalf("landed in %s: %+v", where, res.Error)
	}
	if ah.Creates() != 1 {
		t.Fatalf("%d creates, want 1", ah.Creates())
	}
	resent := ah.BytesReceived() - sentBefore
	total := int64(len(b))
	if resent >= total {
		t.Fatalf("after the restart %d bytes were sent for a %d-byte video: the upload started over", resent, total)
	}
	t.Logf("video %d bytes; sent before the kill %d, after the restart %d (%.0f%%)", total, sentBefore, resent, 100*float64(resent)/float64(total))
}
