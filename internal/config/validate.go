package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// resolve makes paths absolute, reads secret files and normalizes endpoints,
// before validation sees the result.
func (d *decoder) resolve(c *Config, base string) {
	for i := range c.Watches {
		if w := &c.Watches[i]; w.Dir != "" {
			w.Dir = absPath(base, w.Dir)
		}
	}
	if r := c.Realsee; r != nil {
		r.Endpoint = strings.TrimRight(r.Endpoint, "/")
		d.secretFile("realsee", &r.AppSecret, &r.AppSecretFile, base)
	}
	if a := c.Aholo; a != nil {
		a.Endpoint = strings.TrimRight(a.Endpoint, "/")
		d.secretFile("aholo", &a.AppSecret, &a.AppSecretFile, base)
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

// secretFile loads *file into *secret. Messages name the file, never its
// content.
func (d *decoder) secretFile(section string, secret *Secret, file *string, base string) {
	if *file == "" {
		return
	}
	key := section + ".app_secret_file"
	if *secret != "" {
		d.report(key, section+": app_secret and app_secret_file are both set; keep one")
		d.bad[section+".app_secret"] = true
		return
	}
	*file = absPath(base, *file)
	data, err := os.ReadFile(*file)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			err = pe.Err
		}
		d.report(key, fmt.Sprintf("%s: cannot read %s: %v", key, *file, err))
		d.bad[key] = true
		return
	}
	s := strings.TrimRight(string(data), "\r\n")
	if s == "" {
		d.report(key, fmt.Sprintf("%s: %s is empty", key, *file))
		d.bad[key] = true
		return
	}
	*secret = Secret(s)
}

// validate reports every invalid value through report(path, message), where
// path is the key the message is about.
func (c *Config) validate(report func(path, msg string)) {
	reportf := func(path, format string, args ...any) {
		report(path, fmt.Sprintf(format, args...))
	}
	positive := func(path string, v Duration) {
		if v <= 0 {
			reportf(path, "%s: must be more than 0 (got %s)", path, v)
		}
	}
	atLeast := func(path string, v, min int) {
		if v < min {
			reportf(path, "%s: must be at least %d (got %d)", path, min, v)
		}
	}
	oneOf := func(path, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		reportf(path, "%s: %q is not one of %s", path, v, strings.Join(allowed, ", "))
	}
	endpoint := func(path, v string) {
		if msg := checkEndpoint(v); msg != "" {
			reportf(path, "%s: %s", path, msg)
		}
	}
	required := func(section, key, v string) {
		if v == "" {
			reportf(section+"."+key, "%s: %s is required (or remove the %s section if you do not use it)", section, key, section)
		}
	}
	secret := func(section string, v Secret, file string) {
		if v == "" && file == "" {
			reportf(section+".app_secret", "%s: app_secret or app_secret_file is required (or remove the %s section if you do not use it)", section, section)
		}
	}

	if len(c.Watches) == 0 {
		report("watches", `no watches; add at least one under "watches:" with a dir`)
	}
	dirs := map[string]int{}
	for i, w := range c.Watches {
		p := fmt.Sprintf("watches[%d]", i)
		if w.Dir == "" {
			reportf(p+".dir", "%s: dir is required", p)
		} else if first, dup := dirs[w.Dir]; dup {
			reportf(p+".dir", "%s.dir: %s is already watched by watches[%d]", p, w.Dir, first)
		} else {
			dirs[w.Dir] = i
		}
		oneOf(p+".mode", w.Mode, ModeAuto, ModeNotify, ModePoll)
		positive(p+".poll_interval", w.PollInterval)
		if w.Settle < 0 {
			reportf(p+".settle", "%s.settle: must not be negative (got %s)", p, w.Settle)
		}
	}
	atLeast("max_jobs", c.MaxJobs, 1)
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")

	if r := c.Realsee; r != nil {
		endpoint("realsee.endpoint", r.Endpoint)
		required("realsee", "app_key", r.AppKey)
		secret("realsee", r.AppSecret, r.AppSecretFile)
		positive("realsee.poll_interval", r.PollInterval)
		positive("realsee.timeout", r.Timeout)
		if r.PartSize < minPartSize || r.PartSize > maxPartSize {
			reportf("realsee.part_size", "realsee.part_size: %s is outside %s..%s", r.PartSize, ByteSize(minPartSize), ByteSize(maxPartSize))
		}
		atLeast("realsee.upload_concurrency", r.UploadConcurrency, 1)
	}
	if a := c.Aholo; a != nil {
		endpoint("aholo.endpoint", a.Endpoint)
		required("aholo", "app_key", a.AppKey)
		secret("aholo", a.AppSecret, a.AppSecretFile)
		required("aholo", "appuid", a.AppUID)
		positive("aholo.poll_interval", a.PollInterval)
		positive("aholo.timeout", a.Timeout)
		atLeast("aholo.upload_concurrency", a.UploadConcurrency, 1)
	}
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
