package notify

import (
	"runtime"
	"strings"

	"github.com/scandrop/scandrop/internal/config"
)

// hookBase are the variables of scandrop's own environment that every
// command hook gets: what a program needs to start and to behave as it
// does in a shell — find programs, a home, a user, a locale, a time zone,
// a temporary folder — and nothing else, since that environment holds
// scandrop's secrets (app_secret: ${RS_SECRET}). LC_* are passed too.
var hookBase = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR"}

// hookBaseWindows are their Windows counterparts: SystemRoot without which
// Winsock and crypto fail to load, ComSpec and PATHEXT for cmd.exe and
// batch files, TEMP and TMP, and the profile and program folders that
// PowerShell and installers look up. Windows names ignore case.
var hookBaseWindows = []string{
	"Path", "PATHEXT", "SystemRoot", "SystemDrive", "windir", "ComSpec", "TEMP", "TMP",
	"USERPROFILE", "USERNAME", "USERDOMAIN", "HOMEDRIVE", "HOMEPATH", "APPDATA", "LOCALAPPDATA",
	"ProgramData", "ProgramFiles", "ProgramFiles(x86)", "ProgramW6432",
	"CommonProgramFiles", "CommonProgramFiles(x86)", "CommonProgramW6432",
	"PROCESSOR_ARCHITECTURE", "NUMBER_OF_PROCESSORS", "OS", "PSModulePath",
}

// hookEnv builds a command hook's environment from environ (scandrop's):
// the base variables, then c.Env (already NAME=value; later entries win),
// then event (the SCANDROP_ variables). An entry whose value holds one of
// secrets is left out and its name returned in dropped: the configuration
// refuses those in c.Env, so this catches a base variable an operator set
// to a secret.
func hookEnv(environ []string, c config.Command, event []string, secrets []config.Secret) (env, dropped []string) {
	base := hookBase
	fold := runtime.GOOS == "windows"
	if fold {
		base = hookBaseWindows
	}
	keep := func(name string) bool {
		if !fold && strings.HasPrefix(name, "LC_") {
			return true
		}
		for _, b := range base {
			if name == b || fold && strings.EqualFold(name, b) {
				return true
			}
		}
		return false
	}
	for _, e := range environ {
		if name, _, ok := strings.Cut(e, "="); ok && name != "" && keep(name) {
			env = append(env, e)
		}
	}
	env = append(env, c.Env...)
	env = append(env, event...)
	out := env[:0]
	for _, e := range env {
		name, value, _ := strings.Cut(e, "=")
		if holdsAny(value, secrets) {
			dropped = append(dropped, name)
			continue
		}
		out = append(out, e)
	}
	return out, dropped
}

func holdsAny(v string, secrets []config.Secret) bool {
	for _, s := range secrets {
		if s.FoundIn(v) {
			return true
		}
	}
	return false
}
