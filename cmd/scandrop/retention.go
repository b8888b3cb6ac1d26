package main

import (
	"context"
	"time"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/pipeline"
)

// retentionLoop applies the watch's retention (if it is on) at start and
// then every retention interval, until ctx ends.
func (d *daemon) retentionLoop(ctx context.Context, wc config.Watch) {
	rc := d.cfg.RetentionOf(wc)
	if !rc.On() {
		return
	}
	r := &pipeline.Retention{Done: time.Duration(rc.Done), Failed: time.Duration(rc.Failed), Logger: d.log.With("watch", wc.Dir)}
	if rc.Action == config.RetentionArchive {
		r.Archive = rc.ArchiveDir
	}
	for {
		r.Sweep(ctx, wc.Dir)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(rc.Interval)):
		}
	}
}
