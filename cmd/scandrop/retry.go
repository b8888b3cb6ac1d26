package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/dropname"
	"github.com/scandrop/scandrop/internal/textsafe"
	"github.com/scandrop/scandrop/pipeline"
)

// retryOptions are the flags and arguments of `scandrop retry`.
type retryOptions struct {
	Config string
	// Names are folder names to find in every watch's failed/, or paths
	// of folders in a failed/.
	Names []string
	// Failed retries every folder in failed/ (of the kind Kind, if set).
	Failed bool
	Kind   string
	// Fresh sets each folder's .scandrop/ aside: the job starts anew.
	Fresh  bool
	DryRun bool
}

// retryTarget is one folder of a failed/ to move back.
type retryTarget struct {
	root, name string
}

// runRetry moves failed folders back to inbox/ (pipeline.Requeue), one
// line per folder on stdout. It returns errJobFailed (exit 1) if any was
// refused or not found, after trying all of them.
func runRetry(ctx context.Context, opts retryOptions, stdout, stderr io.Writer) error {
	switch {
	case opts.Failed && len(opts.Names) > 0:
		return usageError{"retry: give folder names or --failed, not both"}
	case !opts.Failed && len(opts.Names) == 0:
		return usageError{"retry: name the folders to retry (scandrop retry NAME…), or --failed for all of failed/"}
	case opts.Kind != "" && !opts.Failed:
		return usageError{"retry: --kind goes with --failed"}
	case opts.Kind != "" && !slices.Contains(pipeline.ResultKinds(), opts.Kind):
		return usageError{fmt.Sprintf("retry: unknown kind %q (%s)", opts.Kind, strings.Join(pipeline.ResultKinds(), ", "))}
	}
	cfg, err := loadConfigOffline(opts.Config)
	if err != nil {
		return err
	}
	e := textsafe.Escape
	refused := false
	refuse := func(what, why string) {
		refused = true
		fmt.Fprintf(stdout, "refused %s: %s\n", e(what), e(why))
	}
	var targets []retryTarget
	if opts.Failed {
		targets = failedFolders(cfg, opts.Kind)
		if len(targets) == 0 {
			what := "no folder in failed/"
			if opts.Kind != "" {
				what = "no folder of kind " + opts.Kind + " in failed/"
			}
			fmt.Fprintln(stdout, what+"; nothing to retry")
		}
	}
	for _, n := range opts.Names {
		t, why := findFailed(cfg, n)
		if why != "" {
			refuse(n, why)
			continue
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rq, err := pipeline.Requeue(t.root, t.name, pipeline.RequeueOptions{Fresh: opts.Fresh, DryRun: opts.DryRun})
		if err != nil {
			refuse(filepath.Join(t.root, pipeline.Failed, t.name), pipeline.ShowPaths(err.Error(), t.root))
			continue
		}
		verb := "moved"
		if opts.DryRun {
			verb = "would move"
		}
		fmt.Fprintf(stdout, "%s %s → %s/ (%s)\n", verb, e(rq.From), pipeline.Inbox, e(retryNote(rq, opts)))
	}
	if refused {
		return errJobFailed
	}
	return nil
}

// retryNote says what the next attempt of a requeued job does.
func retryNote(rq pipeline.Requeued, opts retryOptions) string {
	kind := "no result.json"
	if rq.Result != nil && rq.Result.Error != nil {
		kind = rq.Result.Error.Kind
	}
	var parts []string
	switch {
	case rq.KeepsTask:
		parts = append(parts, kind+": the same vendor task is checked again")
	case opts.Fresh:
		parts = append(parts, kind+": starts anew, its state set aside")
	default:
		parts = append(parts, kind+": runs again from the start")
	}
	if rq.ResultKept != "" {
		parts = append(parts, "result.json kept as "+rq.ResultKept)
	}
	if rq.StateKept != "" {
		parts = append(parts, ".scandrop kept as "+rq.StateKept)
	}
	return strings.Join(parts, "; ")
}

// findFailed finds the folder an argument names: a path to a folder in a
// watch's failed/, or a name looked up in every watch's failed/. why says
// why it names none (or several).
func findFailed(cfg *config.Config, arg string) (retryTarget, string) {
	// "bad1/" (a shell's completion) names the folder bad1.
	if trimmed := strings.TrimRight(arg, `/`+string(filepath.Separator)); trimmed != "" {
		arg = trimmed
	}
	if strings.ContainsRune(arg, '/') || strings.ContainsRune(arg, filepath.Separator) {
		abs, err := filepath.Abs(arg)
		if err != nil {
			return retryTarget{}, err.Error()
		}
		for _, w := range cfg.Watches {
			if filepath.Dir(abs) == filepath.Join(w.Dir, pipeline.Failed) {
				return retryTarget{w.Dir, filepath.Base(abs)}, ""
			}
		}
		return retryTarget{}, "not a folder in the failed/ of a watch in the config"
	}
	if arg == "" || arg == "." || arg == ".." {
		return retryTarget{}, "not a folder name"
	}
	if dropname.Ignored(arg) {
		return retryTarget{}, "a hidden or temporary name, which inbox/ ignores (scandrop's own temporaries are named so too); rename the folder first"
	}
	var found []retryTarget
	for _, w := range cfg.Watches {
		if fi, err := os.Lstat(filepath.Join(w.Dir, pipeline.Failed, arg)); err == nil && fi.IsDir() {
			found = append(found, retryTarget{w.Dir, arg})
		}
	}
	switch len(found) {
	case 0:
		var dirs []string
		for _, w := range cfg.Watches {
			dirs = append(dirs, filepath.Join(w.Dir, pipeline.Failed))
		}
		return retryTarget{}, "no such folder in " + strings.Join(dirs, ", ")
	case 1:
		return found[0], ""
	}
	var paths []string
	for _, t := range found {
		paths = append(paths, filepath.Join(t.root, pipeline.Failed, t.name))
	}
	return retryTarget{}, "in the failed/ of several watches: " + strings.Join(paths, ", ") + "; give the path of the one to retry"
}

// failedFolders lists the folders of every watch's failed/ whose result
// names kind (any, if kind is ""), by watch and name.
func failedFolders(cfg *config.Config, kind string) []retryTarget {
	var out []retryTarget
	for _, w := range cfg.Watches {
		ents, err := os.ReadDir(filepath.Join(w.Dir, pipeline.Failed))
		if err != nil {
			continue
		}
		for _, ent := range ents {
			if !ent.IsDir() || dropname.Ignored(ent.Name()) {
				continue
			}
			if kind != "" {
				res, err := pipeline.ReadResult(filepath.Join(w.Dir, pipeline.Failed, ent.Name()))
				if err != nil || res.Error == nil || res.Error.Kind != kind {
					continue
				}
			}
			out = append(out, retryTarget{w.Dir, ent.Name()})
		}
	}
	return out
}
