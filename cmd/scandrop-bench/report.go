//go:build linux

package main

import (
	"fmt"
	"strings"
)

// markdown renders the results as the tables docs/performance.md shows.
func markdown(r *Results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	p("scandrop-bench %s, %s: %d × %s, %s RAM, Linux %s, %s, tmp on %s\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.GitRevision, m.CPUs, m.CPU, m.MemTotal, m.Kernel, m.GoVersion, m.TmpFS)
	p("part_size %s, upload_concurrency %d, settle %gs, poll_interval %gs; S3: versitygw on loopback (plain HTTP, signed payloads)\n\n",
		human(r.Settings.PartSize), r.Settings.Concurrency, r.Settings.SettleS, r.Settings.PollInterval)

	if len(r.Realsee) > 0 {
		p("**Realsee drop → zip → S3 multipart** (MiB/s of the drop; CPU = client CPU s / versitygw CPU s)\n\n")
		p("| size | images | scandrop e2e raw | e2e − settle | − gateway check | scandrop MiB/s | limit MiB/s | zip+rclone MiB/s | vs limit | vs baseline | peak RSS | CPU scandrop | CPU limit | CPU zip+rclone |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.Realsee {
			s := x.Scandrop
			base, vsBase, baseCPU := "skipped", "–", "–"
			if x.Baseline.Skipped == "" {
				base = fmt.Sprintf("%.0f (zip %.1fs + rclone %.1fs)", x.Baseline.MiBps, x.Baseline.ZipS, x.Baseline.UploadS)
				vsBase = fmt.Sprintf("%.2f×", x.RatioBaseline)
				baseCPU = fmt.Sprintf("%.1f / %.1f", x.Baseline.CPUS, x.Baseline.ServerCPUS)
			}
			p("| %s | %d | %.2fs | %.2fs | %.2fs | **%.0f** | %.0f | %s | %.0f%% | %s | %s | %.1f / %.1f | %.1f / %.1f | %s |\n",
				human(x.Size), x.Images, s.RawS, s.MinusSettleS, s.NetS, s.MiBps, x.Limit.MiBps, base,
				100*x.RatioLimit, vsBase, human(s.PeakRSS), s.CPUS, s.ServerCPUS, x.Limit.CPUS, x.Limit.ServerCPUS, baseCPU)
		}
		p("\n")
		for _, x := range r.Realsee {
			if x.Baseline.Skipped != "" {
				p("- %s: %s\n", human(x.Size), x.Baseline.Skipped)
			}
		}
		p("Stages of the scandrop runs (seconds after the claim at which each began):\n\n")
		p("| size | package | upload | submit | wait | end | upload MiB/s |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, x := range r.Realsee {
			st := x.Scandrop.Stages
			p("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f |\n", human(x.Size), st["package"], st["upload"], st["submit"], st["wait"], st["end"], x.Scandrop.UploadMiBps)
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
