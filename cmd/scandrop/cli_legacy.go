package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/spf13/cobra"
)

// The command line before cobra: a command as func(ctx, args, stdout,
// stderr) parsing its own flag.FlagSet (newFlagSet, parseFlags). Kept only
// so that a command written that way can be wired in at once with
// legacyCommand while it is converted to a newXCmd (cli.go); no command of
// scandrop uses it now.

// commonFlags are the flags of a legacy command.
type commonFlags struct {
	config    string
	logFormat string
	logLevel  string
	json      bool
	user      string
}

// global is what loggerFor and the new runX functions take.
func (cf commonFlags) global() globalFlags {
	return globalFlags{config: cf.config, logFormat: cf.logFormat, logLevel: cf.logLevel}
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
// arguments, and validates the log flags as globalFlags.validate does.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{fmt.Sprintf("%s: %v; see 'scandrop %s --help'", fs.Name(), err, fs.Name())}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	g := globalFlags{logFormat: fs.Lookup("log-format").Value.String(), logLevel: fs.Lookup("log-level").Value.String()}
	return pos, g.validate()
}

// legacyCommand makes a cobra command of a legacy one: its arguments,
// global flags included wherever they were given, go to run unparsed; -h
// and --help show the help (use, short and example: its own flags are not
// listed until it is converted).
func legacyCommand(use, short, example string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Example: example,
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
				return c.Help()
			}
			return run(c.Context(), args, c.OutOrStdout(), c.ErrOrStderr())
		},
	}
}
