package main

import (
	"log/slog"
	"strings"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/pipeline"
	"github.com/scandrop/scandrop/vendors"
)

// credentialKeys are where a vendor client's credentials come from in the
// configuration: what an operator must fix when the vendor refuses them.
type credentialKeys struct {
	// Keys names them for a person: "realsee.app_key, realsee.app_secret_file
	// (/etc/scandrop/realsee.secret), realsee.endpoint (the account's region)".
	Keys string
	// SecretFile is the secret's file, when it comes from one.
	SecretFile string
}

// credentialKeysOf returns the credential keys of the vendor named name
// (the default account's; accounts would prefix their own section).
func credentialKeysOf(cfg *config.Config, name string) credentialKeys {
	var keys []string
	secret := func(section, file string) credentialKeys {
		k := credentialKeys{SecretFile: file}
		if file != "" {
			keys = append(keys, section+".app_secret_file ("+file+")")
		} else {
			keys = append(keys, section+".app_secret")
		}
		return k
	}
	var k credentialKeys
	switch name {
	case "realsee":
		if cfg.Realsee == nil {
			return k
		}
		keys = append(keys, "realsee.app_key")
		k = secret("realsee", cfg.Realsee.AppSecretFile)
		// Accounts belong to one region: a global account is refused by
		// the mainland gateway.
		keys = append(keys, "realsee.endpoint (the account's region)")
	case "aholo":
		if cfg.Aholo == nil {
			return k
		}
		keys = append(keys, "aholo.app_key", "aholo.appuid")
		k = secret("aholo", cfg.Aholo.AppSecretFile)
	default:
		keys = append(keys, "the "+name+" section")
	}
	k.Keys = strings.Join(keys, ", ")
	return k
}

// newCredentialGate builds the gate over the pipeline's vendor clients
// that can check their credentials; see pipeline.CredentialGate.
func newCredentialGate(cfg *config.Config, p *pipeline.Pipeline, clock vendors.Clock, log *slog.Logger) *pipeline.CredentialGate {
	var cs []pipeline.Credentials
	for _, v := range p.Vendors() {
		c, ok := v.(vendors.CredentialChecker)
		if !ok {
			continue
		}
		k := credentialKeysOf(cfg, v.Name())
		cred := pipeline.Credentials{Label: v.Name(), Checker: c, Keys: k.Keys}
		if file := k.SecretFile; file != "" {
			cred.ReadSecret = func() (string, error) {
				s, err := config.ReadSecretFile(file)
				return s.Reveal(), err
			}
		}
		cs = append(cs, cred)
	}
	return pipeline.NewCredentialGate(pipeline.GateOptions{Clock: clock, Logger: log}, cs...)
}

// hold is the watchers' Hold, and keeps the resume of a claimed job back
// too: the drop waits while its vendor refuses the credentials.
func (d *daemon) hold(path string) string {
	if d.gate == nil {
		return ""
	}
	name := d.pipe.VendorOf(path)
	if name == "" {
		return ""
	}
	return d.gate.Held(name)
}

// authFailures tells the gate about jobs that failed with kind auth: the
// credentials may have been revoked since the last probe, and the drops
// still in inbox/ should wait rather than fail too.
type authFailures struct {
	pipeline.NopObserver
	gate *pipeline.CredentialGate
}

func (a *authFailures) Finished(folder string, res *pipeline.Result, path string) {
	if a.gate != nil && res != nil && res.Error != nil && res.Error.Kind == vendors.Auth.String() {
		a.gate.Suspect(res.Vendor)
	}
}
