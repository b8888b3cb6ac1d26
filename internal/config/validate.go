package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// resolve makes paths absolute, reads secret files and normalizes endpoints,
// before validation sees the result.
func (d *decoder) resolve(c *Config, base string) {
	for i := range c.Watches {
		if w := &c.Watches[i]; w.Dir != "" {
			if msg := driveRelative(w.Dir); msg != "" {
				p := fmt.Sprintf("watches[%d].dir", i)
				d.report(p, p+": "+msg)
				d.bad[p] = true
				continue
			}
			w.Dir = absPath(base, w.Dir)
		}
	}
	if c.StateDir != "" {
		if msg := driveRelative(c.StateDir); msg != "" {
			d.report("state_dir", "state_dir: "+msg)
			d.bad["state_dir"] = true
		} else {
			c.StateDir = absPath(base, c.StateDir)
		}
	}
	d.resolveRetention(c, base)
	c.eachSection(func(prefix string, sec Section) { sec.resolve(d, prefix, base) })
	for i := range c.Notify.Webhooks {
		w, p := &c.Notify.Webhooks[i], fmt.Sprintf("notify.webhooks[%d]", i)
		d.readSecretFile(p+".secret", p+".secret_file", &w.Secret, &w.SecretFile, base)
	}
	if h := c.HTTP; h != nil {
		d.readSecretFile("http.token", "http.token_file", &h.Token, &h.TokenFile, base)
	}
	for i := range c.Notify.Commands {
		cm := &c.Notify.Commands[i]
		if len(cm.Run) > 0 && strings.ContainsAny(cm.Run[0], `/`+string(filepath.Separator)) {
			cm.Run[0] = absPath(base, cm.Run[0])
		}
		for j, e := range cm.Env {
			if strings.Contains(e, "=") || !validEnvName(e) {
				continue // validation reports a bad name
			}
			p := fmt.Sprintf("notify.commands[%d].env[%d]", i, j)
			v, ok := d.lookup(e)
			if !ok {
				d.report(p, fmt.Sprintf("%s: %s is not set in scandrop's environment; set it, or write %s=value", p, e, e))
				d.bad[p] = true
				continue
			}
			cm.Env[j] = e + "=" + v
		}
	}
}

// absPath resolves p against base, the config file's folder. A rooted path
// without a volume (\scans on Windows) takes base's volume.
func absPath(base, p string) string {
	switch {
	case filepath.IsAbs(p):
	case filepath.VolumeName(p) == "" && (strings.HasPrefix(p, "/") || strings.HasPrefix(p, string(filepath.Separator))):
		p = filepath.VolumeName(base) + p
	default:
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p)
}

// driveRelative reports a Windows path like C:scans, which is relative to
// the current directory of drive C: — a service has none worth naming — and
// which no base folder can anchor. Elsewhere it is always "".
func driveRelative(p string) string {
	if v := filepath.VolumeName(p); v != "" && !filepath.IsAbs(p) && !strings.HasPrefix(v, `\\`) {
		return fmt.Sprintf("%q is relative to the current folder of drive %s; write %s\\%s", p, v, v, p[len(v):])
	}
	return ""
}

// within reports whether path is dir or lies below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(sameDirKey(dir), sameDirKey(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// sameFolderAs returns the index of the first of watches whose dir is,
// on disk, the same folder as dir (a symlink, a bind mount, another
// spelling), or -1. Folders that do not exist yet are told apart by
// spelling alone. A watch nested in another's dir is no clash: each
// claims only from its own inbox/.
func sameFolderAs(watches []Watch, dir string) int {
	fi, err := os.Stat(dir)
	if err != nil {
		return -1
	}
	for i, w := range watches {
		if w.Dir == "" {
			continue
		}
		if o, err := os.Stat(w.Dir); err == nil && os.SameFile(fi, o) {
			return i
		}
	}
	return -1
}

// sameDirKey is the key under which two watch dirs count as the same: file
// names are case-insensitive on Windows and, by default, on macOS.
func sameDirKey(dir string) string {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return strings.ToLower(dir)
	}
	return dir
}

// readSecretFile loads *file, the value of the key fileKey, into *secret, the
// value of secretKey.
func (d *decoder) readSecretFile(secretKey, fileKey string, secret *Secret, file *string, base string) {
	if *file == "" {
		return
	}
	key := fileKey
	if *secret != "" {
		section := parent(secretKey)
		d.report(key, fmt.Sprintf("%s: %s and %s are both set; keep one", section, secretKey[len(section)+1:], fileKey[len(section)+1:]))
		d.bad[secretKey] = true
		return
	}
	*file = absPath(base, *file)
	s, err := ReadSecretFile(*file)
	if err != nil {
		d.report(key, fmt.Sprintf("%s: %v", key, err))
		d.bad[key] = true
		return
	}
	*secret = s
}

// validate reports every invalid value through report(path, message), where
// path is the key the message is about.
func (c *Config) validate(report func(path, msg string)) {
	ck := &checker{report: report}
	reportf, positive, atLeast, oneOf := ck.reportf, ck.positive, ck.atLeast, ck.oneOf

	if len(c.Watches) == 0 {
		report("watches", `no watches; add at least one under "watches:" with a dir`)
	}
	dirs := map[string]int{}
	for i, w := range c.Watches {
		p := fmt.Sprintf("watches[%d]", i)
		if w.Dir == "" {
			reportf(p+".dir", "%s: dir is required", p)
		} else if first, dup := dirs[sameDirKey(w.Dir)]; dup {
			reportf(p+".dir", "%s.dir: %s is already watched by watches[%d]", p, w.Dir, first)
		} else if first := sameFolderAs(c.Watches[:i], w.Dir); first >= 0 {
			reportf(p+".dir", "%s.dir: %s is the same folder as watches[%d].dir %s (through a link); two watches would race for its drops: keep one", p, w.Dir, first, c.Watches[first].Dir)
		} else {
			dirs[sameDirKey(w.Dir)] = i
		}
		oneOf(p+".mode", w.Mode, ModeAuto, ModeNotify, ModePoll)
		positive(p+".poll_interval", w.PollInterval)
		if w.Settle < 0 {
			reportf(p+".settle", "%s.settle: must not be negative (got %s)", p, w.Settle)
		}
	}
	atLeast("max_jobs", c.MaxJobs, 1)
	atLeast("crash_limit", c.CrashLimit, 1)
	if c.StateDir != "" {
		for i, w := range c.Watches {
			if w.Dir != "" && within(c.StateDir, w.Dir) {
				reportf("state_dir", "state_dir: %s is inside watches[%d].dir %s, where drops could read the claim key and forge journals; use a private folder outside every watch", c.StateDir, i, w.Dir)
			}
		}
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	c.validateRetention(reportf)

	c.eachSection(func(prefix string, sec Section) { sec.validate(prefix, ck) })
	if !c.offline {
		// Offline (LoadOffline) the accounts are not read: a watch's
		// account is only a label for status and retry.
		c.validateAccounts(ck)
	}
	if h := c.HTTP; h != nil {
		if msg := checkListen(h.Listen); msg != "" {
			reportf("http.listen", "http.listen: %s", msg)
		}
		if n := len(h.Token.Reveal()); n > 0 && n < minTokenLen {
			reportf("http.token", "http.token: %d characters is too short to resist guessing; use at least %d (e.g. openssl rand -hex 32)", n, minTokenLen)
		}
	}
	events := func(path string, evs []string) {
		for i, e := range evs {
			oneOf(fmt.Sprintf("%s[%d]", path, i), e, EventDone, EventFailed)
		}
	}
	for i, w := range c.Notify.Webhooks {
		p := fmt.Sprintf("notify.webhooks[%d]", i)
		if w.URL == "" {
			reportf(p+".url", "%s: url is required", p)
		} else if msg := checkWebhookURL(w.URL.Reveal()); msg != "" {
			reportf(p+".url", "%s.url: %s", p, msg)
		}
		events(p+".events", w.Events)
		positive(p+".timeout", w.Timeout)
		atLeast(p+".attempts", w.Attempts, 1)
	}
	for i, cm := range c.Notify.Commands {
		p := fmt.Sprintf("notify.commands[%d]", i)
		if len(cm.Run) == 0 || cm.Run[0] == "" {
			reportf(p+".run", "%s: run is required: the program and its arguments, as a list", p)
		}
		events(p+".events", cm.Events)
		positive(p+".timeout", cm.Timeout)
		c.checkCommandSecrets(p, cm, reportf)
	}
}

// checker holds the checks that validation and the vendor sections share;
// each reports through report(path, message), path being the key the
// message is about.
type checker struct {
	report func(path, msg string)
}

func (ck *checker) reportf(path, format string, args ...any) {
	ck.report(path, fmt.Sprintf(format, args...))
}

func (ck *checker) positive(path string, v Duration) {
	if v <= 0 {
		ck.reportf(path, "%s: must be more than 0 (got %s)", path, v)
	}
}

func (ck *checker) atLeast(path string, v, min int) {
	if v < min {
		ck.reportf(path, "%s: must be at least %d (got %d)", path, min, v)
	}
}

func (ck *checker) oneOf(path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ck.reportf(path, "%s: %q is not one of %s", path, v, strings.Join(allowed, ", "))
}

func (ck *checker) endpoint(path, v string) {
	if msg := checkEndpoint(v); msg != "" {
		ck.reportf(path, "%s: %s", path, msg)
	}
}

// required reports key of the section at prefix ("realsee.") missing.
func (ck *checker) required(prefix, key, v string) {
	if v == "" {
		section := strings.TrimSuffix(prefix, ".")
		ck.reportf(prefix+key, "%s: %s is required (or remove the %s section if you do not use it)", section, key, section)
	}
}

// secret reports an app secret missing from the section at prefix.
func (ck *checker) secret(prefix string, v Secret, file string) {
	if v == "" && file == "" {
		section := strings.TrimSuffix(prefix, ".")
		ck.reportf(prefix+"app_secret", "%s: app_secret or app_secret_file is required (or remove the %s section if you do not use it)", section, section)
	}
}

// minTokenLen is the shortest http.token accepted.
const minTokenLen = 16

// checkCommandSecrets reports env entries with a bad or reserved name, and
// the arguments and env values that hold one of scandrop's secrets: those
// are refused rather than passed on, because a hook is other code whose
// output lands in the log, and a secret travels only to the host it
// belongs to. The messages name the secret's key, never its value.
func (c *Config) checkCommandSecrets(p string, cm Command, reportf func(path, format string, args ...any)) {
	secrets := c.namedSecrets()
	holder := func(v string) string {
		for _, s := range secrets {
			if s.value.FoundIn(v) {
				return s.key
			}
		}
		return ""
	}
	for j, a := range cm.Run {
		if k := holder(a); k != "" {
			reportf(fmt.Sprintf("%s.run[%d]", p, j), "%s.run[%d]: holds %s; scandrop never hands its secrets to a hook (give the hook a credential of its own)", p, j, k)
		}
	}
	seen := map[string]int{}
	for j, e := range cm.Env {
		ep := fmt.Sprintf("%s.env[%d]", p, j)
		name, value, _ := strings.Cut(e, "=")
		switch {
		case !validEnvName(name):
			reportf(ep, "%s: %q is not a variable name: write NAME or NAME=value, NAME of letters, digits and _", ep, name)
		case strings.HasPrefix(strings.ToUpper(name), "SCANDROP_"):
			reportf(ep, "%s: %s: names starting SCANDROP_ are set by scandrop", ep, name)
		default:
			if first, dup := seen[envKey(name)]; dup {
				reportf(ep, "%s: %s is already set by env[%d]", ep, name, first)
			}
			seen[envKey(name)] = j
			if k := holder(value); k != "" {
				reportf(ep, "%s: %s holds %s; scandrop never hands its secrets to a hook (give the hook a credential of its own)", ep, name, k)
			}
		}
	}
}

// envKey is the key under which two variable names are the same: Windows
// ignores their case.
func envKey(name string) string {
	if runtime.GOOS == "windows" {
		return strings.ToUpper(name)
	}
	return name
}

type namedSecret struct {
	key   string // the key it was configured by, e.g. realsee.app_secret
	value Secret
}

// namedSecrets lists every secret the configuration holds, by key.
func (c *Config) namedSecrets() []namedSecret {
	var out []namedSecret
	add := func(key string, v Secret) {
		if v != "" {
			out = append(out, namedSecret{key, v})
		}
	}
	c.eachSection(func(prefix string, sec Section) { sec.secrets(prefix, add) })
	if h := c.HTTP; h != nil {
		add("http.token", h.Token)
	}
	for i, w := range c.Notify.Webhooks {
		add(fmt.Sprintf("notify.webhooks[%d].url", i), w.URL)
		add(fmt.Sprintf("notify.webhooks[%d].secret", i), w.Secret)
	}
	return out
}

// Secrets returns every secret the configuration holds: app secrets,
// webhook URLs and secrets, the HTTP token. A hook's environment must hold
// none of them (see Secret.FoundIn).
func (c *Config) Secrets() []Secret {
	var out []Secret
	for _, s := range c.namedSecrets() {
		out = append(out, s.value)
	}
	return out
}

// checkListen returns what is wrong with a host:port listen address, or "".
func checkListen(s string) string {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port, e.g. 127.0.0.1:9180", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: the port must be a number from 0 to 65535", s)
	}
	return ""
}

// checkWebhookURL returns what is wrong with a webhook URL, or "". It never
// quotes the URL, which may carry a token.
func checkWebhookURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "not a URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return "must start with https:// or http://"
	case u.Host == "":
		return "has no host"
	}
	return ""
}

// checkEndpoint returns what is wrong with an endpoint URL, or "". It shows
// the URL only once user info is stripped from it.
func checkEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Sprintf("not a URL: %v", err)
	}
	switch {
	case u.User != nil:
		return "must not contain a user or password"
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Sprintf("%q is not an absolute http(s) URL, e.g. https://host/path", s)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Sprintf("%q must not have a query or fragment", s)
	}
	return ""
}
