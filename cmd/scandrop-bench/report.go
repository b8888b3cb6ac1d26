//go:build linux

package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// markdown renders the results as the tables docs/performance.md shows.
func markdown(r *Results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	p("scandrop-bench %s, %s: %d × %s, %s RAM, Linux %s, %s, tmp on %s\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.GitRevision, m.CPUs, m.CPU, m.MemTotal, m.Kernel, m.GoVersion, m.TmpFS)
	var names []string
	for _, x := range r.Rows {
		if !slices.Contains(names, x.Store) {
			names = append(names, x.Store)
		}
	}
	p("part_size %s, upload_concurrency %d, settle %gs, poll_interval %gs; stores on loopback (plain HTTP, signed payloads): %s\n\n",
		human(r.Settings.PartSize), r.Settings.Concurrency, r.Settings.SettleS, r.Settings.PollInterval, strings.Join(names, ", "))

	if len(r.Rows) > 0 {
		p("**scandrop against the limit** (realsee: claim → submit against one SDK multipart upload of the ready zip, same part size and concurrency; zip+SDK: `zip -0 -r` then that upload; ratios are the median round, min–max over the rounds; read/byte: bytes the daemon read per byte of the drop, read(2) (from the disk); CPU per GiB of the drop)\n\n")
		p("%s\n", rowsTable(r.Rows))
	}
	if len(r.Realsee) > 0 {
		p("Stages of the scandrop runs (median round; seconds after the claim at which each began):\n\n")
		p("| size | store | package | upload | submit | upload MiB/s | e2e raw | gateway check |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.Realsee {
			for _, name := range slices.Sorted(maps.Keys(x.Rounds[0].Stores)) {
				var runs []scandropRun
				for _, s := range x.Rounds {
					runs = append(runs, s.Stores[name].Scandrop)
				}
				slices.SortFunc(runs, func(a, b scandropRun) int { return cmp.Compare(a.MiBps, b.MiBps) })
				s := runs[(len(runs)-1)/2]
				st := s.Stages
				p("| %s | %s | %.2f | %.2f | %.2f | %.0f | %.2fs | %.2fs |\n", human(x.Size), name, st["package"], st["upload"], st["submit"],
					s.UploadMiBps, s.RawS, s.GatewayCheckS)
			}
		}
		p("\nEvery round (MiB/s: scandrop / limit, zip s; load average at the start):\n\n")
		for _, x := range r.Realsee {
			for i, s := range x.Rounds {
				var parts []string
				for name, sr := range s.Stores {
					parts = append(parts, fmt.Sprintf("%s %.0f / %.0f", name, sr.Scandrop.MiBps, sr.Limit.MiBps))
				}
				slices.Sort(parts)
				p("- %s round %d: %s; zip %.1fs; load %s\n", human(x.Size), i+1, strings.Join(parts, ", "), s.ZipS, s.LoadAvg)
			}
		}
		p("\n")
	}
	if len(r.Pickup) > 0 {
		p("**Pickup latency** (last write → \"claimed folder\")\n\n| mode | settle | poll_interval | median | max | target | drops |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.Pickup {
			p("| %s | %gs | %gs | %.2fs | %.2fs | ≤ %gs | %d |\n", x.Mode, x.SettleS, x.PollInterval, x.MedianS, x.MaxS, x.TargetS, len(x.LatenciesS))
		}
		p("\n")
	}
	if x := r.Rescan; x != nil {
		p("**Rescan** of an inbox of %d folders (poll mode, every %gs, over %gs): %.1f ms CPU per rescan (%.1f ms net of an idle daemon's %.1f ms per period); target ≤ %g ms; peak RSS %s\n\n",
			x.Folders, x.PollInterval, x.WindowS, x.CPUPerRescanMS, x.NetMS, x.IdleCPUMS, x.TargetMS, human(x.PeakRSS))
	}
	if x := r.Aholo; x != nil {
		p("**Aholo** %d files (%d photos + a %s video, %s): scandrop claim → submit %.1fs (%.0f MiB/s; e2e raw %.1fs, %s), sequential upload %.1fs (%.0f MiB/s): **%.1f×**; peak RSS %s, CPU %.1fs\n\n",
			x.Files, x.Photos, human(x.VideoBytes), human(x.Size), x.UploadS, x.MiBps, x.RawS, x.Status, x.Sequential, x.SeqMiBps, x.Ratio, human(x.PeakRSS), x.CPUS)
	}
	for _, n := range r.Notes {
		p("- %s\n", n)
	}
	return b.String()
}
