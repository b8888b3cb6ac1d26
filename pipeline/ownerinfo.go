package pipeline

import (
	"path/filepath"
	"time"
)

// Owner is who runs a job in processing/, as the job's owner file says.
type Owner struct {
	Host      string    `json:"host,omitempty"`
	PID       int       `json:"pid,omitempty"`
	Heartbeat time.Time `json:"heartbeat,omitzero"`
	// Live is what a daemon looking for orphans would judge: the heartbeat
	// is fresher than the stale limit and, on this host, the process is
	// alive. A job that is not live is resumed by the next daemon's scan
	// for orphans (every minute, and at start).
	Live bool `json:"live"`
}

// JobOwner reads the owner of the job folder dir at time now, for status.
// A job without an owner file (none has claimed it since the last daemon
// gave it up) returns ok false.
func JobOwner(dir string, now time.Time) (o Owner, ok bool) {
	ow, err := readOwner(filepath.Join(dir, StateDir, ownerFile))
	if err != nil {
		return Owner{}, false
	}
	return Owner{Host: ow.Host, PID: ow.PID, Heartbeat: ow.Heartbeat, Live: ow.live(now)}, true
}

// live reports whether o is a live owner at now: its heartbeat is recent,
// and it is not a dead process on this host (which frees its jobs at once,
// without waiting for the heartbeat to go stale). The one rule for taking
// a job over, and for status.
//
// A heartbeat more than staleAfter in the future is not trusted: a host
// whose clock ran ahead and then died (or a made-up file) would otherwise
// hold the job for ever. The file's modification time, which the share's
// filesystem sets each time the owner beats, is judged instead. An owner
// file that does not parse is live only for tornGrace after it was
// written.
func (o owner) live(now time.Time) bool {
	beat, limit := o.Heartbeat, staleAfter
	switch {
	case o.torn:
		beat, limit = o.mtime, tornGrace
	case beat.Sub(now) > staleAfter:
		beat = o.mtime
	}
	if age := now.Sub(beat); age >= limit || age <= -limit {
		return false
	}
	return !(o.Host == me().Host && !processAlive(o.PID))
}
