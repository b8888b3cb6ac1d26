package pipeline

import (
	"context"
	"os"
	"path/filepath"
)

// Own makes this process the owner of the job folder dir, as Handle does,
// for a job run outside the watcher ("scandrop process"): a daemon then
// leaves the job alone while this process runs it and takes it over once
// this process is gone. It returns ErrOwned if another live scandrop runs
// the job. release stops the heartbeat and gives the job up.
func (p *Pipeline) Own(ctx context.Context, dir string) (release func(), err error) {
	if err := p.own(dir); err != nil {
		return nil, err
	}
	hb, stop := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { defer close(beating); p.heartbeat(hb, dir) }()
	return func() {
		stop()
		<-beating
		os.Remove(filepath.Join(dir, StateDir, ownerFile))
	}, nil
}
