package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors/aholo"
	"github.com/scandrop/scandrop/vendors/realsee"
	"github.com/scandrop/scandrop/watcher"
)

// TestDefaultsAgree: the configuration's defaults are the components' own
// (each default has one home), and a watch the configuration accepts —
// the example's, settle 0s, the smallest times — is one the watcher
// accepts; one it refuses, the watcher refuses too. The watcher once
// refused "settle: 0s", which the configuration accepted and the example
// documents, so the daemon exited 2.
func TestDefaultsAgree(t *testing.T) {
	c := Default()
	c.Watches = []Watch{{Dir: "/srv/scans"}}
	c.Realsee, c.Aholo = &Realsee{}, &Aholo{}
	c.SetDefaults()
	w := c.Watches[0]
	for _, d := range []struct {
		what      string
		got, want any
	}{
		{"watch mode", w.Mode, string(watcher.DefaultMode)},
		{"watch poll_interval", time.Duration(w.PollInterval), watcher.DefaultPollInterval},
		{"settle", time.Duration(w.Settle), watcher.DefaultSettle},
		{"crash_limit", c.CrashLimit, pipeline.DefaultCrashLimit},
		{"realsee endpoint", c.Realsee.Endpoint, realsee.DefaultEndpoint},
		{"realsee poll_interval", time.Duration(c.Realsee.PollInterval), pipeline.DefaultPollInterval},
		{"realsee timeout", time.Duration(c.Realsee.Timeout), realsee.DefaultTimeout},
		{"realsee part_size", int64(c.Realsee.PartSize), int64(realsee.DefaultPartSize)},
		{"realsee upload_concurrency", c.Realsee.UploadConcurrency, realsee.DefaultUploadConcurrency},
		{"aholo endpoint", c.Aholo.Endpoint, aholo.DefaultEndpoint},
		{"aholo timeout", time.Duration(c.Aholo.Timeout), aholo.DefaultTimeout},
		{"aholo upload_concurrency", c.Aholo.UploadConcurrency, aholo.DefaultUploadConcurrency},
		{"aholo video_type", *c.Aholo.VideoType, aholo.DefaultVideoType},
	} {
		if fmt.Sprint(d.got) != fmt.Sprint(d.want) {
			t.Errorf("%s: config default %v, component default %v", d.what, d.got, d.want)
		}
	}

	for _, tc := range []struct {
		keys   string
		accept bool
	}{
		{"", true}, // the defaults
		{"    settle: 0s\n", true},
		{"    settle: 1ms\n    poll_interval: 1ms\n", true},
		{"    mode: poll\n    settle: 2h\n", true},
		{"    mode: notify\n", true},
		{"    settle: -1s\n", false},
		{"    poll_interval: -1s\n", false},
		{"    mode: inotify\n", false},
	} {
		yaml := "watches:\n  - dir: /srv/scans\n" + tc.keys
		cfg, err := Parse([]byte(yaml), "/etc/scandrop/config.yaml")
		if (err == nil) != tc.accept {
			t.Errorf("config %q: error %v, want accepted %v", tc.keys, err, tc.accept)
			continue
		}
		if err != nil {
			// Refused by the configuration: the watcher refuses the same
			// value (the watcher takes a zero poll interval as its
			// default, so only values the file can mean are compared).
			if werr := watchOf(tc.keys); werr == nil {
				t.Errorf("config refuses %q, the watcher accepts it", tc.keys)
			}
			continue
		}
		cw := cfg.Watches[0]
		_, werr := watcher.New(watcher.Options{Dir: cw.Dir, Mode: watcher.Mode(cw.Mode), PollInterval: time.Duration(cw.PollInterval),
			Settle: time.Duration(cw.Settle), Markers: []string{"manifest.json"}})
		if werr != nil {
			t.Errorf("config accepts %q, the watcher refuses it: %v", tc.keys, werr)
		}
	}
}

// watchOf builds the watcher for a watch's keys as written, without the
// configuration's checks.
func watchOf(keys string) error {
	o := watcher.Options{Dir: "/srv/scans", PollInterval: watcher.DefaultPollInterval, Settle: watcher.DefaultSettle, Markers: []string{"manifest.json"}}
	for _, l := range strings.Split(strings.TrimSpace(keys), "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), ": ")
		switch k {
		case "mode":
			o.Mode = watcher.Mode(v)
		case "settle":
			o.Settle, _ = time.ParseDuration(v)
		case "poll_interval":
			o.PollInterval, _ = time.ParseDuration(v)
		}
	}
	_, err := watcher.New(o)
	return err
}
