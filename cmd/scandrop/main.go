// Command scandrop watches inbox folders for project drops — panoramas for a
// Realsee VR tour, photos or video for an Aholo 3D reconstruction — and
// carries each one through its vendor's API to a result.json.
//
// See README.md for the commands; cli.go defines the command line, the
// other files wire the packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"strings"

	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/vendors"
)

// Exit codes, as the contract states them.
const (
	exitOK     = 0
	exitFailed = 1 // the job failed (process) or the drop is invalid (check)
	exitUsage  = 2 // usage or configuration error
	// exitTaken: process found the folder already taken by another
	// scandrop (a daemon claimed it, or runs it): nothing is wrong with the
	// drop or the command, and the other scandrop carries on with the job.
	exitTaken = 3
)

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errTaken says that another scandrop has the folder (exit code 3).
type errTaken struct{ msg string }

func (e errTaken) Error() string { return e.msg }

func main() {
	if err := applyContainerEnv(os.Getenv); err != nil { // PUID, PGID, UMASK: container.go
		os.Exit(exitCode(err, os.Stderr))
	}
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// errJobFailed is returned by process and check when the job or the drop
// is bad; what went wrong has been printed already.
var errJobFailed = errors.New("failed")

func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	var te errTaken
	var es exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &es): // service: status codes, messages of its own
		if es.msg != "" {
			fmt.Fprintln(stderr, "scandrop:", es.msg)
		}
		return es.code
	case errors.Is(err, errJobFailed):
		return exitFailed
	case errors.As(err, &ue):
		if ue.msg != "" { // "" when the usage was printed instead
			fmt.Fprintln(stderr, "scandrop:", ue.msg)
		}
		return exitUsage
	case errors.As(err, &te):
		fmt.Fprintln(stderr, "scandrop:", te.msg)
		return exitTaken
	case errors.Is(err, context.Canceled):
		return exitOK // stopped by a signal
	}
	fmt.Fprintln(stderr, "scandrop:", textsafe.Clean(err.Error(), vendors.MaxErrorMessage))
	return exitUsage
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	lv, err := parseLogLevel(level)
	if err != nil {
		return nil, err
	}
	if err := checkLogFormat(format); err != nil {
		return nil, err
	}
	// Every value is bounded and escaped: log lines carry names and
	// messages from drops.
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: textsafe.LogAttr}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

// parseLogLevel is the one reading of a log level, from --log-level or
// the config's log.level: "" is info.
func parseLogLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, usageError{fmt.Sprintf("unknown log level %q (debug, info, warn, error)", level)}
}

// checkLogFormat is the one check of a log format: "" is text.
func checkLogFormat(format string) error {
	switch format {
	case "", "text", "json":
		return nil
	}
	return usageError{fmt.Sprintf("unknown log format %q (text, json)", format)}
}

// routeStdLog sends what the standard library writes through the log
// package (net/http's transport and server: "Unsolicited response received
// on idle HTTP channel…", with a peer's bytes in it) to l at WARN, bounded
// and escaped like every other line, instead of raw to stderr.
func routeStdLog(l *slog.Logger) {
	stdlog.SetFlags(0)
	stdlog.SetPrefix("")
	stdlog.SetOutput(stdLogWriter{l})
}

type stdLogWriter struct{ l *slog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimRight(string(p), "\n")
	w.l.Warn("go library", "msg", textsafe.Clean(msg, textsafe.MaxLogValue))
	return len(p), nil
}
