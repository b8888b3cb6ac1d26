// Command scandrop watches inbox folders for project drops — panoramas for a
// Realsee VR tour, photos or video for an Aholo 3D reconstruction — and
// carries each one through its vendor's API to a result.json.
//
// See README.md for the commands; this file only parses flags and wires
// the packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
	exitTaken   = 3
	usageHeader = `scandrop — carries project drops from watch folders to the 3D scanning vendors.

Usage:
  scandrop run [--config FILE]            the daemon, in the foreground
  scandrop process [--config FILE] FOLDER  run one folder now, in place (writes FOLDER/result.json)
  scandrop check FOLDER                    validate a drop offline; touches nothing
  scandrop demo                            the offline sandbox: fake vendors, bundled examples
  scandrop status [--config FILE] [--json] [--watch] [--interval 2s]
                                           jobs in processing (retrying, orphaned), inbox folders, last results
  scandrop retry [--config FILE] [--dry-run] [--fresh] NAME… | --failed [--kind KIND]
                                           move failed folders back to inbox/ (keeping task ids where safe)
  scandrop doctor [--config FILE]          check the setup: config, watch folders, vendors, listener, hooks
  scandrop service install|uninstall|start|stop|restart|status [--config FILE] [--scope system|user] [--run-as ACCOUNT] [--purge]
  scandrop version

Common flags:
  --config FILE       default ./config.yaml, then the OS config dir (/etc/scandrop/config.yaml)
  --log-format FMT    text (default) or json
  --log-level LEVEL   debug, info, warn, error (overrides config)
`
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

func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usageHeader+vendorUsage())
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, rest := args[0], args[1:]
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, rest, stderr)
	case "process":
		err = cmdProcess(ctx, rest, stdout, stderr)
	case "check":
		err = cmdCheck(ctx, rest, stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr)
	case "status":
		err = cmdStatus(ctx, rest, stdout, stderr)
	case "retry":
		err = cmdRetry(ctx, rest, stdout, stderr)
	case "doctor":
		err = cmdDoctor(ctx, rest, stdout, stderr)
	case "service":
		err = cmdService(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	default:
		err = usageError{fmt.Sprintf("unknown command %q; run 'scandrop help'", cmd)}
	}
	return exitCode(err, stderr)
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
		fmt.Fprintln(stderr, "scandrop:", ue.msg)
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

// commonFlags are accepted by every command.
type commonFlags struct {
	config    string
	logFormat string
	logLevel  string
	json      bool
	user      string
}

func newFlagSet(name string, cf *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cf.config, "config", "", "config file")
	fs.StringVar(&cf.logFormat, "log-format", "", "text or json")
	fs.StringVar(&cf.logLevel, "log-level", "", "debug, info, warn or error")
	return fs
}

// parseFlags parses flags that may come before or after positional
// arguments ("process FOLDER --config x" works as well as the other way).
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "", "info":
		lv = slog.LevelInfo
	case "debug":
		lv = slog.LevelDebug
	case "warn", "warning":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		return nil, usageError{fmt.Sprintf("unknown log level %q (debug, info, warn, error)", level)}
	}
	// Every value is bounded and escaped: log lines carry names and
	// messages from drops.
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: textsafe.LogAttr}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("unknown log format %q (text, json)", format)}
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
