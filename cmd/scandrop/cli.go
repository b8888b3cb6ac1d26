package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/spf13/cobra"
)

// The command line, with cobra. Each command is defined once, here, by a
// newXCmd function: its usage, help, example, flags and argument count.
// Its work is done by runX(ctx, xOptions, stdout, stderr) in the file of
// the command (daemon.go, demo.go, status.go, service.go); runX receives
// flags already parsed and validated.
//
// To add a command: write `type xOptions struct{ globalFlags; ... }` and
// `func runX(ctx context.Context, opts xOptions, stdout, stderr io.Writer)
// error`, then a newXCmd(g *globalFlags) below, and add it to the list in
// newRootCmd. A command still written the old way (func(ctx, args,
// stdout, stderr) with its own flag set) can be wired in meanwhile with

// globalFlags are accepted by every command, before or after its name
// (`scandrop --config x.yaml run` and `scandrop run --config x.yaml`), and
// validated once for all of them (globalFlags.validate).
type globalFlags struct {
	config    string
	logFormat string
	logLevel  string
}

// validate refuses a log format or level scandrop does not know, the same
// way for every command, whether or not the command logs.
func (g *globalFlags) validate() error {
	if _, err := parseLogLevel(g.logLevel); err != nil {
		return err
	}
	return checkLogFormat(g.logFormat)
}

// rootLong is the root's description; the vendors and their markers come
// from the vendor table (vendorUsage).
var rootLong = `scandrop carries project drops from watch folders to the 3D scanning vendors.

A drop is a folder copied into a watch folder's inbox/, with its vendor's
marker file at its root (the list below): panoramas for a VR tour, or photos
or a video for a 3D reconstruction. scandrop validates, packages and uploads
it, runs the vendor's job, writes result.json, and moves the folder to
done/ or failed/.

Exit codes: 0 ok; 1 the job failed or the drop is invalid; 2 usage or
configuration error; 3 the folder is taken by another scandrop.
` + vendorUsage()

const rootExample = `  scandrop demo                          try it offline, with the vendors' emulators
  scandrop check ./my-drop               validate a drop; touches nothing
  scandrop run --config /etc/scandrop/config.yaml
  scandrop help process                  help on one command`

// newRootCmd builds the whole command line. stderr receives the usage
// when no command is given.
func newRootCmd(stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:     "scandrop",
		Short:   "Carries project drops from watch folders to the 3D scanning vendors",
		Long:    rootLong,
		Example: rootExample,
		Version: version,
		// Anything left for the root is an unknown command: RunE says so,
		// with suggestions, as a usage error.
		Args:              cobra.ArbitraryArgs,
		SilenceErrors:     true, // exitCode prints them, once
		SilenceUsage:      true, // an error says where to find help
		PersistentPreRunE: func(*cobra.Command, []string) error { return g.validate() },
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				c.SetOut(stderr)
				c.Usage()
				return usageError{""}
			}
			return unknownCommand(c, args[0])
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate(versionString() + "\n")
	// The root runs only to report an unknown command: its usage shows
	// "scandrop [command]" alone.
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable .HasParent}}", 1))
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "config file (default: ./config.yaml, else ~/.config/scandrop/config.yaml, else /etc/scandrop/config.yaml; see the README)")
	pf.StringVar(&g.logFormat, "log-format", "", "log format: text or json (default: the config's log.format, else text)")
	pf.StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn or error (default: the config's log.level, else info)")
	root.RegisterFlagCompletionFunc("log-format", fixedCompletions("text", "json"))
	root.RegisterFlagCompletionFunc("log-level", fixedCompletions("debug", "info", "warn", "error"))
	root.MarkPersistentFlagFilename("config", "yaml", "yml")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// "scandrop stauts --json": the root parsed --json because no
		// command matched; the mistyped command is the error to report.
		if a := c.Flags().Args(); !c.HasParent() && len(a) > 0 {
			return unknownCommand(c, a[0])
		}
		return usageError{fmt.Sprintf("%v; see '%s --help'", err, c.CommandPath())}
	})

	root.AddCommand(
		newRunCmd(g),
		newProcessCmd(g),
		newCheckCmd(g),
		newDemoCmd(g),
		newStatusCmd(g),
		newRetryCmd(g),
		newDoctorCmd(g),
		newServiceCmd(g),
		newVersionCmd(),
	)
	root.SetHelpCommand(newHelpCmd(root))
	// cobra's `completion bash|zsh|fish|powershell`, with an unknown or
	// missing shell a usage error rather than its help and exit 0.
	root.InitDefaultCompletionCmd()
	if cc, _, err := root.Find([]string{"completion"}); err == nil && cc != root {
		cc.Args = cobra.ArbitraryArgs
		cc.RunE = func(c *cobra.Command, a []string) error {
			if len(a) == 0 {
				c.SetOut(stderr)
				c.Usage()
				return usageError{""}
			}
			return usageError{fmt.Sprintf("no completion for the shell %q: bash, zsh, fish or powershell; see 'scandrop completion --help'", a[0])}
		}
	}
	return root
}

// runMain runs the command line args and returns the exit code.
func runMain(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stderr)
	root.SetArgs(args)
	root.SetOut(stdout) // help, version and completion scripts
	root.SetErr(stderr)
	return exitCode(root.ExecuteContext(ctx), stderr)
}

// unknownCommand is the usage error for a command scandrop does not have,
// with the commands it may have meant.
func unknownCommand(c *cobra.Command, name string) error {
	msg := fmt.Sprintf("unknown command %q", name)
	if s := c.Root().SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", strings.Join(s, `" or "`))
	}
	return usageError{msg + "; run 'scandrop help'"}
}

// newHelpCmd is `scandrop help [COMMAND]`: cobra's, but a topic that does
// not exist is a usage error with suggestions rather than exit 0.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			if len(args) == 0 {
				for _, sub := range root.Commands() {
					if sub.IsAvailableCommand() {
						names = append(names, cobra.CompletionWithDesc(sub.Name(), sub.Short))
					}
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || cmd == nil {
				return usageError{fmt.Sprintf("no help for %q; run 'scandrop help'", strings.Join(args, " "))}
			}
			if len(rest) > 0 && cmd == root {
				return unknownCommand(root, rest[0])
			}
			cmd.InitDefaultHelpFlag() // listed, as in `scandrop CMD --help`
			return cmd.Help()
		},
	}
}

// args checks the number of positional arguments: exactly n, with usage
// as the message otherwise.
func args(n int, usage string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		msg := fmt.Sprintf("%s takes no arguments", c.Name())
		if n > 0 {
			msg = "usage: " + usage
		}
		return usageError{msg + fmt.Sprintf("; see '%s --help'", c.CommandPath())}
	}
}

func fixedCompletions(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// folderArg completes a FOLDER argument with folders only.
func folderArg(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

func newRunCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the daemon in the foreground: watch, process, resume",
		Long: `Runs the daemon in the foreground: watches every configured watch folder,
carries each drop through its vendor, and resumes the jobs left in
processing/ by an earlier run. Stops cleanly on SIGINT or SIGTERM; jobs
under way resume on the next start.`,
		Example: `  scandrop run --config /etc/scandrop/config.yaml
  scandrop --config ./config.yaml run --log-format json`,
		Args:              args(0, ""),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRun(c.Context(), runOptions{globalFlags: *g}, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
}

func newProcessCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "process FOLDER",
		Short: "Run one folder now, in place (writes FOLDER/result.json)",
		Long: `Runs one drop now, in place, without moving it: validates, uploads, runs the
vendor's job, writes FOLDER/result.json and prints it. On a terminal a
progress bar shows the stage. Exit 1 if the job failed, 3 if another
scandrop has the folder.`,
		Example:           `  scandrop process --config ./config.yaml ./site-042`,
		Args:              args(1, "scandrop process [--config FILE] FOLDER"),
		ValidArgsFunction: folderArg,
		RunE: func(c *cobra.Command, a []string) error {
			return runProcess(c.Context(), processOptions{globalFlags: *g, folder: a[0]}, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
}

func newCheckCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check FOLDER",
		Short: "Validate a drop offline; touches nothing",
		Long: `Validates a drop offline, as the daemon would before uploading it, and lists
every problem with its file. Needs no config and no network, and changes
nothing. Exit 1 if the drop is invalid.`,
		Example:           `  scandrop check ./site-042`,
		Args:              args(1, "scandrop check FOLDER"),
		ValidArgsFunction: folderArg,
		RunE: func(c *cobra.Command, a []string) error {
			return runCheck(c.Context(), checkOptions{globalFlags: *g, folder: a[0]}, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
}

func newDemoCmd(g *globalFlags) *cobra.Command {
	o := demoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "The offline sandbox: built-in vendor emulators, bundled examples",
		Long: `Runs the real daemon offline against scandrop's built-in emulators of
every vendor's API and an S3 store, all in this process, and drops the
bundled examples into a temporary watch folder. The VR links and asset URLs
it prints are the emulators' (fake), not real vendor links. The temporary
folder is removed at the end unless --keep is given.`,
		Example: `  scandrop demo
  scandrop demo --keep         keep the watch folder to look at done/ afterwards`,
		Args:              args(0, ""),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			o.globalFlags = *g
			return runDemo(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	c.Flags().StringVar(&o.dir, "dir", "", "watch folder to use, kept afterwards (default: a new temporary folder)")
	c.Flags().BoolVar(&o.keep, "keep", false, "keep the temporary watch folder and print where it is")
	c.MarkFlagDirname("dir")
	return c
}

func newStatusCmd(g *globalFlags) *cobra.Command {
	o := statusOptions{}
	c := &cobra.Command{
		Use:   "status",
		Short: "Jobs in processing (retrying, orphaned), inbox folders, last results",
		Long: `Shows, from the watch folders themselves, the jobs in processing/ (a job
retrying a vendor error with the reason and the next attempt; a job whose
scandrop is gone as orphaned), the folders waiting in inbox/ and the last
results in done/ and failed/. Works whether or not a daemon runs, on any
host that mounts the watch folders, and needs none of the daemon's secrets.`,
		Example: `  scandrop status --config /etc/scandrop/config.yaml
  scandrop status --json
  scandrop status --watch --interval 5s`,
		Args:              args(0, ""),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Config = g.config
			o.Watch = o.Watch || c.Flags().Changed("interval")
			if f, ok := c.OutOrStdout().(*os.File); ok {
				o.Terminal = isTerminal(f)
			}
			return runStatus(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	c.Flags().BoolVar(&o.JSON, "json", false, "print the report as JSON")
	c.Flags().BoolVar(&o.Watch, "watch", false, "redraw the report every --interval until Ctrl-C")
	c.Flags().DurationVar(&o.Interval, "interval", defaultStatusInterval, "refresh period of --watch (implies --watch; at least 100ms)")
	return c
}

func newRetryCmd(g *globalFlags) *cobra.Command {
	o := retryOptions{}
	c := &cobra.Command{
		Use:   "retry NAME... | --failed [--kind KIND]",
		Short: "Move failed folders back to inbox/ (keeping task ids where safe)",
		Long: `Moves folders from failed/ back to inbox/, where the daemon runs them again.
NAME is looked up in every watch's failed/ (or give the path of a folder in
a failed/). The move never replaces anything: a name taken in inbox/ or
processing/ is refused. A job that timed out checks the same vendor task
again; --fresh sets its state aside so that a new task is submitted. The
failure's result.json is kept as result.failed-<time>.json.
Exit 0 if every folder moved, 1 if any was refused or not found.`,
		Example: `  scandrop retry nave-2026-11-20
  scandrop retry --failed --kind timeout --dry-run
  scandrop retry --fresh /srv/scans/failed/nave-2026-11-20`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, a []string) error {
			o.Config, o.Names = g.config, a
			return runRetry(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	c.Flags().BoolVar(&o.Failed, "failed", false, "retry every folder in failed/")
	c.Flags().StringVar(&o.Kind, "kind", "", "with --failed: only the failures of this kind (result.json's error.kind)")
	c.Flags().BoolVar(&o.Fresh, "fresh", false, "set .scandrop/ aside: the job starts anew (a new vendor task)")
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "say what would be moved; move nothing")
	c.RegisterFlagCompletionFunc("kind", func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return pipeline.ResultKinds(), cobra.ShellCompDirectiveNoFileComp
	})
	return c
}

func newDoctorCmd(g *globalFlags) *cobra.Command {
	o := doctorOptions{}
	c := &cobra.Command{
		Use:   "doctor",
		Short: "Check the setup: config, watch folders, vendors, listener, hooks",
		Long: `Checks the setup and prints one line per item, OK, WARN or FAIL with the
fix: the config and its risky settings; each watch folder (exists, writable,
inbox/ processing/ done/ failed/ on one file system, whether file events
arrive or mode: poll is needed, free space); each vendor client of every
account (DNS, TLS, the credentials with one authenticated call, this
machine's clock against the vendor's); the HTTP listener; notification
commands. Changes nothing but probe files it creates and removes.
Exit 0 when nothing failed (warnings allowed), 1 on a problem, 2 when the
config cannot be read.`,
		Example:           `  scandrop doctor --config /etc/scandrop/config.yaml`,
		Args:              args(0, ""),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			o.Config = g.config
			return runDoctor(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	return c
}

// serviceActions are the arguments of `scandrop service`.
var serviceActions = []string{"install", "uninstall", "start", "stop", "restart", "status"}

func newServiceCmd(g *globalFlags) *cobra.Command {
	o := serviceOptions{}
	var user string
	c := &cobra.Command{
		Use:   "service " + strings.Join(serviceActions, "|"),
		Short: "Install or control scandrop as a system or per-user service",
		Long: `Installs scandrop as a service of the system's service manager (systemd,
SysV init, OpenRC, launchd, the Windows service manager), running
"scandrop run --config FILE", or controls the installed service. Install
prints what it wrote (unit, account, log, environment file); secrets go
to the environment file (mode 0600), never into the unit.
status exits 0 running, 3 stopped, 4 not installed, 1 unknown.`,
		Example: `  sudo scandrop service install --config /etc/scandrop/config.yaml --run-as scandrop
  scandrop service install --scope user --config ~/.config/scandrop/config.yaml
  scandrop service status
  sudo scandrop service uninstall --purge`,
		Args:      args(1, "scandrop service "+strings.Join(serviceActions, "|")+" [flags]"),
		ValidArgs: serviceActions,
		RunE: func(c *cobra.Command, a []string) error {
			if user != "" {
				if o.RunAs != "" {
					return usageError{"--user is the old name of --run-as: give one of them"}
				}
				fmt.Fprintln(c.ErrOrStderr(), "scandrop: --user ACCOUNT is now --run-as ACCOUNT (--scope user installs a per-user service)")
				o.RunAs = user
			}
			o.Action, o.Config = a[0], g.config
			return runService(c.Context(), o, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	f := c.Flags()
	f.StringVar(&o.Scope, "scope", "system", "system, or user: a per-user service (systemd --user unit, launchd agent)")
	f.StringVar(&o.RunAs, "run-as", "", "install: the account a system service runs as (Windows: one that can reach the SMB shares)")
	f.StringVar(&user, "user", "", "deprecated: the old name of --run-as")
	f.MarkHidden("user")
	f.BoolVar(&o.Purge, "purge", false, "uninstall: also remove the environment file (secrets) and the state folder")
	f.StringVar(&o.Init, "init", "", "systemd, sysv, openrc, launchd or windows, instead of the detected one")
	f.StringVar(&o.Root, "root", "", "relocate the installation (files, env file, log, pid file) under DIR")
	f.DurationVar(&o.Settle, "settle", 3*time.Second, "start: how long the service must keep running to count as started")
	c.RegisterFlagCompletionFunc("scope", fixedCompletions("system", "user"))
	c.RegisterFlagCompletionFunc("init", fixedCompletions("systemd", "sysv", "openrc", "launchd", "windows"))
	return c
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "version",
		Short:             "Print the version (also -v, --version)",
		Example:           `  scandrop version`,
		Args:              args(0, ""),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(c.OutOrStdout(), versionString())
			return err
		},
	}
}
