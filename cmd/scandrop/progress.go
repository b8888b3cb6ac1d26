package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/scandrop/scandrop/internal/ops"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
)

// isTerminal reports whether f is a terminal (a character device: a Unix
// tty or a Windows console), and TERM does not say it cannot redraw.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// progressBar is a pipeline.Observer that shows `scandrop process` on a
// terminal: one line, redrawn in place, with the stage, the upload's bar,
// bytes and rate, or how long the vendor has been working. It is also the
// log's writer, so that log lines scroll above the bar instead of through
// it. Only used when stderr is a terminal; elsewhere the log lines alone
// say what happens.
type progressBar struct {
	pipeline.NopObserver
	out   io.Writer
	now   func() time.Time
	width int // columns when the terminal does not tell (COLUMNS, else 80)
	// cols is the terminal's width now, 0 if unknown: asked at each draw,
	// so that a resized window gets a bar that fits, never one that wraps
	// (a wrapped bar is not erased by the next redraw: lines of garbage).
	cols func() int

	mu           sync.Mutex
	shown        bool // a bar is on the screen
	stage        string
	stageAt      time.Time
	vendorStatus string
	done, total  int64
	rateAt       time.Time // start of the rate's window
	rateBytes    int64
	rate         float64 // bytes per second
	lastDraw     time.Time
	stop         chan struct{}
	stopped      sync.WaitGroup
	closed       sync.Once
}

func newProgressBar(out io.Writer) *progressBar {
	p := &progressBar{out: out, now: time.Now, width: 80, stop: make(chan struct{})}
	var cols int
	if _, err := fmt.Sscan(os.Getenv("COLUMNS"), &cols); err == nil && cols >= 40 {
		p.width = cols
	}
	if f, ok := out.(*os.File); ok {
		p.cols = func() int { return termColumns(f) }
	}
	// Elapsed times move on while nothing is reported (the vendor's wait).
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				if p.stage != "" {
					p.draw()
				}
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// Close removes the bar, leaving the screen to what follows.
func (p *progressBar) Close() {
	p.closed.Do(func() {
		close(p.stop)
		p.stopped.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.clear()
		p.stage = ""
	})
}

// Write is the log's output: the bar is taken down, the line written, and
// the bar drawn again below it.
func (p *progressBar) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	n, err := p.out.Write(b)
	if p.stage != "" {
		p.draw()
	}
	return n, err
}

func (p *progressBar) Stage(folder, vendor, stage string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stage, p.stageAt, p.vendorStatus = stage, p.now(), ""
	p.draw()
}

func (p *progressBar) VendorStatus(folder, vendor, status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.vendorStatus = textsafe.Clean(status, 200) // the vendor's words, on a terminal
	p.draw()
}

func (p *progressBar) Uploaded(folder, vendor string, done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.rateAt.IsZero() || done < p.done {
		p.rateAt, p.rateBytes = now, done
	} else if d := now.Sub(p.rateAt); d >= 2*time.Second {
		p.rate = float64(done-p.rateBytes) / d.Seconds()
		p.rateAt, p.rateBytes = now, done
	}
	p.done, p.total = done, total
	// Parts arrive fast: redraw at most ten times a second.
	if now.Sub(p.lastDraw) >= 100*time.Millisecond || done == total {
		p.draw()
	}
}

// clear takes the bar off the screen. Called with mu held.
func (p *progressBar) clear() {
	if p.shown {
		io.WriteString(p.out, "\r\033[K")
		p.shown = false
	}
}

// draw shows the bar. Called with mu held.
func (p *progressBar) draw() {
	p.lastDraw = p.now()
	line := p.render()
	width := p.width
	if p.cols != nil {
		if c := p.cols(); c > 0 {
			width = c
		}
	}
	// One column short of the edge: a line that fills the last column
	// leaves some terminals' cursor pending a wrap.
	if r := []rune(line); len(r) > width-1 {
		line = string(r[:max(width-1, 0)])
	}
	io.WriteString(p.out, "\r\033[K"+line)
	p.shown = true
}

func (p *progressBar) render() string {
	elapsed := ops.Age(p.now().Sub(p.stageAt))
	switch {
	case p.stage == pipeline.StageUpload && p.total > 0:
		const cells = 20
		filled := int(p.done * cells / p.total)
		bar := strings.Repeat("█", filled) + strings.Repeat("░", cells-filled)
		s := fmt.Sprintf("upload %s %3d%% %s/%s", bar, p.done*100/p.total, ops.HumanBytes(p.done), ops.HumanBytes(p.total))
		if p.rate > 0 {
			s += fmt.Sprintf(" %s/s", ops.HumanBytes(int64(p.rate)))
			if left := p.total - p.done; left > 0 {
				s += " ~" + ops.Age(time.Duration(float64(left)/p.rate*float64(time.Second))) + " left"
			}
		}
		return s
	case p.stage == pipeline.StageWait:
		spin := `|/-\`[int(p.now().Sub(p.stageAt)/time.Second)%4]
		s := fmt.Sprintf("wait %c vendor working for %s", spin, elapsed)
		if p.vendorStatus != "" {
			s += " (" + p.vendorStatus + ")"
		}
		return s
	}
	return fmt.Sprintf("%s %s", p.stage, elapsed)
}
