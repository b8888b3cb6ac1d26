package ops

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/scandrop/scandrop/internal/textsafe"
)

// WriteText writes the report as tables for people, one block per watch.
// Every string is escaped again (textsafe.Escape, which leaves text that
// is safe as it is): a report from elsewhere than Reporter must not drive
// the terminal either.
func WriteText(w io.Writer, rep Report) error {
	e := textsafe.Escape
	for i, ws := range rep.Watches {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if ws.Account != "" {
			fmt.Fprintf(w, "watch %s (account %s)\n", e(ws.Dir), e(ws.Account))
		} else {
			fmt.Fprintf(w, "watch %s\n", e(ws.Dir))
		}
		if ws.Error != "" {
			fmt.Fprintf(w, "  %s\n", e(ws.Error))
			continue
		}
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  processing (%d)\n", len(ws.Processing))
		if len(ws.Processing) > 0 {
			fmt.Fprintf(tw, "    FOLDER\tVENDOR\tSTAGE\tFOR\tPROGRESS\tAGE\tVENDOR IDS\n")
		}
		// A job's detail lines start with an empty cell: a line without a
		// tab would end tabwriter's column block, and the jobs below it
		// would be aligned apart from those above.
		for _, j := range ws.Processing {
			prog := "-"
			if j.TotalBytes > 0 {
				prog = fmt.Sprintf("%d%% of %s", j.UploadedBytes*100/j.TotalBytes, HumanBytes(j.TotalBytes))
			}
			stage := j.Stage
			if j.VendorStatus != "" {
				stage += " (" + j.VendorStatus + ")"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\n", e(j.Folder), e(dash(j.Vendor)), e(stage), dash(j.StageAge), prog, dash(j.Age), e(dash(IDs(j.VendorIDs))))
			if j.Retrying != "" {
				fmt.Fprintf(tw, "    \tretrying: %s\n", e(retryLine(j)))
			}
			if j.Orphaned {
				fmt.Fprintf(tw, "    \t%s\n", e(j.Orphan))
			}
			if j.Error != "" {
				fmt.Fprintf(tw, "    \t%s\n", e(j.Error))
			}
		}
		fmt.Fprintf(tw, "  inbox (%d)\n", len(ws.Inbox)+ws.InboxMore)
		for _, in := range ws.Inbox {
			fmt.Fprintf(tw, "    %s\t%s\n", e(in.Folder), e(in.Reason))
			if in.Problem != "" {
				more := ""
				if in.Problems > 1 {
					more = fmt.Sprintf(" (%d problems in all; run scandrop check)", in.Problems)
				}
				fmt.Fprintf(tw, "    \twill fail: %s%s\n", e(in.Problem), more)
			}
		}
		if ws.InboxMore > 0 {
			fmt.Fprintf(tw, "    and %d more, not listed\n", ws.InboxMore)
		}
		fmt.Fprintf(tw, "  recent (%d)\n", len(ws.Recent))
		for _, r := range ws.Recent {
			detail := r.Link
			if r.Error != "" {
				detail = r.Error
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", e(r.Folder), e(r.Status), r.FinishedAt.Local().Format("2006-01-02 15:04"), e(detail))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// retryLine says what a retrying job failed with and when it tries next:
// "upload failed 3 times since 10:04:05: transient: HTTP 503 …; next attempt in 25s (10:06:00)".
func retryLine(j Job) string {
	s := j.Retrying
	if j.RetryStage != "" && j.Retries > 0 {
		s = fmt.Sprintf("%s failed %d time%s since %s: %s", j.RetryStage, j.Retries, plural(j.Retries), j.RetryingSince.Local().Format("15:04:05"), j.Retrying)
	}
	switch {
	case j.NextAttemptIn == "when resumed":
		s += "; next attempt when a scandrop resumes it"
	case !j.NextAttempt.IsZero():
		s += fmt.Sprintf("; next attempt %s (%s)", j.NextAttemptIn, j.NextAttempt.Local().Format("15:04:05"))
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
