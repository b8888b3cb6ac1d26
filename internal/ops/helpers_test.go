package ops

import (
	"time"

	"github.com/scandrop/scandrop/watcher"
)

// liveInbox is what a running watcher reports of the "broken" drop.
func liveInbox(since time.Time) func() []watcher.FolderState {
	return func() []watcher.FolderState {
		return []watcher.FolderState{{Name: "broken", Reason: "settling: changed 1s ago, needs 10s unchanged", Since: since}}
	}
}
