package watcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/scandrop/scandrop/watcher"
)

// A watcher on a temporary watch root: a folder copied into inbox/ with a
// marker, once unchanged for Settle, is claimed — renamed into processing/
// — and handed to the handler, which owns it from then on.
func Example() {
	root, _ := os.MkdirTemp("", "watch")
	defer os.RemoveAll(root)

	w, err := watcher.New(watcher.Options{
		Dir:     root,
		Mode:    watcher.ModePoll,
		Settle:  0, // claimed at the second walk that finds it unchanged
		Markers: []string{"manifest.json"},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A drop, made elsewhere and renamed in whole, as a copy tool would.
	staging := filepath.Join(root, "staging")
	os.MkdirAll(staging, 0o755)
	os.WriteFile(filepath.Join(staging, "manifest.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(staging, "hall.jpg"), []byte("..."), 0o644)
	os.MkdirAll(filepath.Join(root, watcher.InboxDir), 0o755)
	os.Rename(staging, filepath.Join(root, watcher.InboxDir, "church"))

	ctx, cancel := context.WithCancel(context.Background())
	claimed := make(chan string, 1)
	done := make(chan error)
	go func() {
		done <- w.Run(ctx, watcher.NewSlots(1), func(path string) {
			claimed <- path // ... run the job; its slot is free again on return
		})
	}()
	path := <-claimed
	cancel()
	<-done
	rel, _ := filepath.Rel(root, path)
	fmt.Println(filepath.ToSlash(rel))
	// Output:
	// processing/church
}
