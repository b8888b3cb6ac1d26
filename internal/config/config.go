// Package config reads scandrop's YAML configuration file. The types below
// are the reference for every key: their doc comments give the meaning, the
// default and the allowed values; config.yaml.example at the repository root
// shows them all.
//
// The file is read strictly, because a daemon that silently ignores a typo
// ("polll_interval") runs for weeks with a setting nobody chose. Unknown and
// duplicate keys, wrong types, unset ${VAR} references and invalid values are
// all errors that name the file, line and key, and every problem is reported
// at once, one per line.
//
// Rules common to all keys:
//
//   - ${VAR} in a value is replaced by the environment variable VAR after the
//     YAML is parsed, so a value containing quotes or colons stays one value.
//     $$ is a literal $; a $ not followed by { or $ is kept as is. An unset
//     variable is an error; one set to "" counts as empty.
//   - An empty value (null, "", or a ${VAR} that expands to "") is the same as
//     leaving the key out: the default applies. An explicit value, including
//     0, is kept and validated, so "settle: 0s" means no settle time while
//     "poll_interval: 0s" is an error.
//   - Relative paths resolve against the folder holding the config file, never
//     against the working directory: services start in / or System32.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/watcher"
)

// Config is the whole configuration file.
type Config struct {
	// Watches are the watched folders; at least one is required.
	Watches []Watch `yaml:"watches"`

	// MaxJobs is how many jobs run at once across all watches. Default 2;
	// at least 1.
	MaxJobs int `yaml:"max_jobs"`

	// CrashLimit is how many times scandrop may stop abruptly (a crash, a
	// kill, a power cut) while a job is at one stage without getting
	// further, before the job is moved to failed/ (kind "crash") so that the
	// other jobs go on. Default 3; at least 1.
	CrashLimit int `yaml:"crash_limit"`

	// StateDir is scandrop's own private folder, holding claim.key: the key
	// that signs job journals, so that a job moved back from failed/ to
	// inbox/ resumes its task only on the installation that ran it (a
	// journal arriving any other way is set aside). Created (0700) if
	// missing. Optional; default (see StateDirectory) $STATE_DIRECTORY when
	// systemd sets it (StateDirectory=scandrop), else the user's config
	// folder + /scandrop (~/.config/scandrop, %AppData%\scandrop). A
	// relative path resolves against the config file's folder. It must not
	// be inside a watch dir: whoever can read the key can forge journals.
	// Two daemons sharing watch folders resume each other's moved-back jobs
	// only when they share the key: point both at one private folder.
	StateDir string `yaml:"state_dir"`

	// Log configures the daemon's log.
	Log Log `yaml:"log"`

	// Vendors are the vendor sections at the top level (realsee:, aholo:):
	// the default account, used by the watches that name none. A section
	// left out is nil: drops for that vendor then fail with "<vendor> is not
	// configured". A section that is present but empty is an error, since it
	// lacks the required keys.
	Vendors `yaml:",inline"`

	// Accounts are more vendor accounts, by name, for watches that name one
	// (Watch.Account): a capture service running drops for several
	// customers, each with its own vendor accounts. Optional.
	Accounts []Account `yaml:"accounts"`

	// HTTP is the optional status and metrics listener. Nil (off) when the
	// section is absent; "http: {}" turns it on at the default address.
	HTTP *HTTP `yaml:"http"`

	// Notify says whom to tell when a job lands in done/ or failed/.
	Notify Notify `yaml:"notify"`

	// Retention removes or archives old folders of done/ and failed/; off
	// by default. See Retention.
	Retention Retention `yaml:"retention"`

	// Path is the absolute path of the file loaded; empty for Default.
	Path string `yaml:"-"`

	// offline is set by LoadOffline: the vendor sections, http, notify and
	// accounts were not read.
	offline bool
}

// Watch is one watched folder.
type Watch struct {
	// Dir is the folder holding inbox/, processing/, done/ and failed/
	// (created if missing). Required. A relative path resolves against the
	// config file's folder; Dir is always absolute and clean after loading.
	// No two watches may share a Dir.
	Dir string `yaml:"dir"`

	// Mode is how changes are noticed. In every mode a full rescan runs each
	// PollInterval and decides; file system events only make it come sooner.
	// "auto" (default) asks the OS for events and carries on with rescans
	// alone where it cannot deliver them; "notify" is the same but refuses to
	// start without events; "poll" never asks, for NAS/SMB/NFS shares where
	// no events arrive.
	Mode string `yaml:"mode"`

	// PollInterval is the period of the full rescan. Default 10s; > 0.
	PollInterval Duration `yaml:"poll_interval"`

	// Settle is how long a folder must stay unchanged (names, sizes, mtimes),
	// across at least two scans, before it is picked up. Default 10s; 0 picks
	// a folder up at the second scan that sees it unchanged; >= 0.
	Settle Duration `yaml:"settle"`

	// Retention, if set, overrides the top-level retention for this watch,
	// key by key. Optional.
	Retention *Retention `yaml:"retention"`

	// Account names the entry of Accounts whose vendor credentials this
	// watch's drops use. Optional; default the top-level sections. The
	// account must hold every vendor section the configuration has
	// anywhere, since a watch takes the drops of every vendor.
	Account string `yaml:"account"`
}

// Watch modes.
const (
	ModeAuto   = "auto"
	ModeNotify = "notify"
	ModePoll   = "poll"
)

// Log configures logging.
type Log struct {
	// Level is the least severe level written: "debug", "info" (default),
	// "warn" or "error".
	Level string `yaml:"level"`

	// Format is "text" (default, logfmt-style key=value) or "json" (one
	// object per line).
	Format string `yaml:"format"`
}

// HTTP is the status and metrics listener: /healthz, /status (the JSON of
// "scandrop status --json", live), / (an HTML status page) and /metrics
// (Prometheus text format). /status and the page show folder paths, links
// and errors: off loopback, set a Token. It serves plain HTTP; across an
// untrusted network put a TLS reverse proxy in front.
type HTTP struct {
	// Listen is the host:port to listen on. Default 127.0.0.1:9180 (this
	// machine only); ":9180" listens on every interface.
	Listen string `yaml:"listen"`

	// Token, when set, is required by every route but /healthz, as
	// "Authorization: Bearer <token>" (Prometheus: authorization.credentials)
	// or as the password of HTTP Basic auth, any user (browsers); other
	// requests get 401. Optional; at least 16 characters; or TokenFile.
	Token Secret `yaml:"token"`

	// TokenFile names a file holding Token; see Realsee.AppSecretFile.
	TokenFile string `yaml:"token_file"`
}

// Notify lists the webhooks and commands told about finished jobs. Each runs
// in the background after the folder has moved: a slow or failing receiver
// never holds up a job, and nothing is retried forever.
type Notify struct {
	// Webhooks receive a POST of the job's result.json.
	Webhooks []Webhook `yaml:"webhooks"`

	// Commands are run for finished jobs.
	Commands []Command `yaml:"commands"`
}

// Webhook is one HTTP receiver. The request body is the job's result.json
// exactly as written; headers: Content-Type application/json,
// X-Scandrop-Event (done or failed), X-Scandrop-Delivery (the same id on
// every retry of one notification, to drop duplicates), and, with a secret,
// X-Scandrop-Signature: sha256=<hex HMAC-SHA256 of the body>. A 2xx answer
// is a delivery; network errors, 408, 429 and 5xx are retried with backoff,
// any other answer is not.
type Webhook struct {
	// URL is the absolute http(s) URL to POST to. Required. It may carry a
	// token in its path or query; logs show only its host.
	URL Secret `yaml:"url"`

	// Secret is the HMAC-SHA256 key that signs the body. Optional (without
	// one, requests are unsigned); or SecretFile.
	Secret Secret `yaml:"secret"`

	// SecretFile names a file holding Secret; see Realsee.AppSecretFile.
	SecretFile string `yaml:"secret_file"`

	// Events are the outcomes to send: "done", "failed". Default both.
	Events []string `yaml:"events"`

	// Timeout bounds each attempt. Default 10s; > 0.
	Timeout Duration `yaml:"timeout"`

	// Attempts is how many times a notification is tried before it is
	// given up (logged as undelivered). Default 8, waiting 2s, 4s, 8s, …
	// up to 5m between tries (about 4 minutes in all); at least 1.
	Attempts int `yaml:"attempts"`
}

// Command is a program run for finished jobs, directly (not through a
// shell), with the result.json path appended as its last argument and in
// the environment: SCANDROP_RESULT (that path), SCANDROP_STATUS (success or
// failed), SCANDROP_EVENT (done or failed), SCANDROP_FOLDER (the folder's
// name), SCANDROP_DIR (where the folder now is) and SCANDROP_ACCOUNT (the
// job's named account, empty for the default). For a shell one-liner,
// run [sh, -c, "..."] and use the variables. Its output goes to the log; a
// command that fails is logged, not retried.
//
// A command does not inherit scandrop's environment, which holds its
// secrets (app_secret: ${RS_SECRET}): it gets a minimal base (PATH, HOME,
// USER, LANG, LC_*, TZ, TMPDIR; on Windows also SystemRoot, ComSpec,
// PATHEXT, TEMP, TMP, USERPROFILE, APPDATA and the like), then Env, then
// the SCANDROP_ variables.
type Command struct {
	// Run is the program and its arguments. Required; a relative program
	// path resolves against the config file's folder, a bare name through
	// PATH. No argument may hold one of scandrop's secrets.
	Run []string `yaml:"run"`

	// Env adds variables: NAME passes scandrop's own NAME on (an error if
	// it is unset), NAME=value sets one (value may use ${VAR}). Default
	// none. After loading every entry is NAME=value. A value holding one of
	// scandrop's secrets (an app secret, a webhook URL or secret, the HTTP
	// token) is an error, however it got there: a hook is other code, and
	// its output goes to the log. Names starting SCANDROP_ are scandrop's.
	Env []string `yaml:"env"`

	// Events are the outcomes to run for: "done", "failed". Default both.
	Events []string `yaml:"events"`

	// Timeout kills the command after this long. Default 1m; > 0.
	Timeout Duration `yaml:"timeout"`
}

// Notification events, named after the folder a job lands in.
const (
	EventDone   = "done"
	EventFailed = "failed"
)

// Defaults of the keys that have one; setDefaults is the only place they are
// applied, and the field comments above document them. A key that a
// component reads takes its default from that component, the one home of
// it (defaults_agree_test.go checks that what this package accepts, the
// components accept).
const (
	defaultMaxJobs           = 2
	defaultCrashLimit        = pipeline.DefaultCrashLimit
	defaultLogLevel          = "info"
	defaultLogFormat         = "text"
	defaultWatchMode         = string(watcher.DefaultMode)
	defaultWatchPollInterval = Duration(watcher.DefaultPollInterval)
	defaultSettle            = Duration(watcher.DefaultSettle)
	defaultHTTPListen        = "127.0.0.1:9180"
	defaultWebhookTimeout    = Duration(10 * time.Second)
	defaultWebhookAttempts   = 8
	defaultCommandTimeout    = Duration(time.Minute)
)

// SetDefaults fills every zero-valued field that has a default, in c and in
// each of its watches and vendor sections. It is the only place defaults are
// applied; Load calls it, and code that builds a Config by hand (demo) calls
// it after adding watches.
func (c *Config) SetDefaults() { c.setDefaults(func(string) bool { return false }) }

// setDefaults fills zero values, except those the file set explicitly
// (explicit reports whether the key at a path was given a non-empty value),
// so that an explicit 0 reaches validation instead of becoming the default.
func (c *Config) setDefaults(explicit func(path string) bool) {
	def := func(path string, zero bool) bool { return zero && !explicit(path) }
	if def("max_jobs", c.MaxJobs == 0) {
		c.MaxJobs = defaultMaxJobs
	}
	if def("crash_limit", c.CrashLimit == 0) {
		c.CrashLimit = defaultCrashLimit
	}
	if def("log.level", c.Log.Level == "") {
		c.Log.Level = defaultLogLevel
	}
	if def("log.format", c.Log.Format == "") {
		c.Log.Format = defaultLogFormat
	}
	for i := range c.Watches {
		w, p := &c.Watches[i], fmt.Sprintf("watches[%d].", i)
		if def(p+"mode", w.Mode == "") {
			w.Mode = defaultWatchMode
		}
		if def(p+"poll_interval", w.PollInterval == 0) {
			w.PollInterval = defaultWatchPollInterval
		}
		if def(p+"settle", w.Settle == 0) {
			w.Settle = defaultSettle
		}
	}
	c.eachSection(func(prefix string, sec Section) {
		sec.defaults(func(key string, zero bool) bool { return def(prefix+key, zero) })
	})
	c.setRetentionDefaults(def)
	if h := c.HTTP; h != nil && def("http.listen", h.Listen == "") {
		h.Listen = defaultHTTPListen
	}
	for i := range c.Notify.Webhooks {
		w, p := &c.Notify.Webhooks[i], fmt.Sprintf("notify.webhooks[%d].", i)
		if def(p+"events", len(w.Events) == 0) {
			w.Events = []string{EventDone, EventFailed}
		}
		if def(p+"timeout", w.Timeout == 0) {
			w.Timeout = defaultWebhookTimeout
		}
		if def(p+"attempts", w.Attempts == 0) {
			w.Attempts = defaultWebhookAttempts
		}
	}
	for i := range c.Notify.Commands {
		cm, p := &c.Notify.Commands[i], fmt.Sprintf("notify.commands[%d].", i)
		if def(p+"events", len(cm.Events) == 0) {
			cm.Events = []string{EventDone, EventFailed}
		}
		if def(p+"timeout", cm.Timeout == 0) {
			cm.Timeout = defaultCommandTimeout
		}
	}
}

// StateDirectory returns the folder for scandrop's state: StateDir if
// set, else $STATE_DIRECTORY (its first entry), else the user's config
// folder + /scandrop; "" if none of these exists.
func (c *Config) StateDirectory() string {
	if c.StateDir != "" {
		return c.StateDir
	}
	if v := os.Getenv("STATE_DIRECTORY"); v != "" {
		if first, _, _ := strings.Cut(v, string(os.PathListSeparator)); filepath.IsAbs(first) {
			return first
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "scandrop")
	}
	return ""
}

// Default returns a configuration with every default applied, no watches and
// no vendor sections (nil, as when the file leaves them out). Code that adds
// watches or sections by hand calls SetDefaults afterwards to fill theirs.
func Default() *Config {
	c := &Config{}
	c.SetDefaults()
	return c
}

// Load reads the file at path, applies defaults and validates it; see Parse.
// Errors start with path as given.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse parses data as the content of the file at path, expanding ${VAR}
// from the process environment; see ParseEnv.
func Parse(data []byte, path string) (*Config, error) {
	return ParseEnv(data, path, os.LookupEnv)
}

// ParseEnv parses data as the content of the file at path: it decodes the
// YAML strictly, expands ${VAR} references through lookupEnv, reads
// app_secret_file files, applies defaults and validates the result.
//
// path starts every error message and anchors relative paths (watch dirs,
// secret files); it should name the file even when data did not come from
// it. An empty path is reported as "config" and anchors at the working
// directory.
//
// The error, if any, holds one line per problem, each "path:line: message"
// (or "path: message" when no line applies), ordered by line; it never
// contains a secret.
func ParseEnv(data []byte, path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	return parse(data, path, lookupEnv)
}
