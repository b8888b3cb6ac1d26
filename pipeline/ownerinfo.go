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
// without waiting for the heartbeat to go stale).
func (o owner) live(now time.Time) bool {
	return now.Sub(o.Heartbeat) < staleAfter && !(o.Host == me().Host && !processAlive(o.PID))
}
