package main

import (
	"log/slog"
	"strings"

	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/textsafe"
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
// in account ("" for the top-level sections).
func credentialKeysOf(cfg *config.Config, account, name string) credentialKeys {
	vs := cfg.AccountVendors(account)
	if vs == nil {
		return credentialKeys{}
	}
	sec := vs.Section(name)
	if sec == nil {
		return credentialKeys{}
	}
	prefix := name + "."
	if account != "" {
		prefix = "accounts[" + account + "]." + name + "."
	}
	keys, file := sec.Credentials(prefix)
	return credentialKeys{Keys: strings.Join(keys, ", "), SecretFile: file}
}

// clientLabel names a vendor client in messages and in the gate:
// "realsee", or "realsee (account acme)".
func clientLabel(account, vendor string) string {
	if account == "" {
		return vendor
	}
	return vendor + " (account " + account + ")"
}

// newCredentialGate builds the gate over the pipeline's vendor clients
// that can check their credentials; see pipeline.CredentialGate.
func newCredentialGate(cfg *config.Config, p *pipeline.Pipeline, clock vendors.Clock, log *slog.Logger) *pipeline.CredentialGate {
	var cs []pipeline.Credentials
	for _, cl := range p.Clients() {
		c, ok := cl.Vendor.(vendors.CredentialChecker)
		if !ok {
			continue
		}
		k := credentialKeysOf(cfg, cl.Account, cl.Vendor.Name())
		cred := pipeline.Credentials{Label: clientLabel(cl.Account, cl.Vendor.Name()), Checker: c, Keys: k.Keys}
		if file := k.SecretFile; file != "" {
			cred.ReadSecret = func() (string, error) {
				s, err := config.ReadSecretFile(file)
				textsafe.AddSecret(s.Reveal()) // the new secret may be echoed too
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
	return d.gate.Held(clientLabel(d.pipe.JobAccount(path), name))
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
		a.gate.Suspect(clientLabel(res.Account, res.Vendor))
	}
}
