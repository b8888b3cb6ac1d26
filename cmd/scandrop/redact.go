package main

import (
	"github.com/scandrop/scandrop/internal/config"
	"github.com/scandrop/scandrop/internal/textsafe"
)

// redactSecrets gives every secret of cfg (app secrets of every account,
// webhook URLs and secrets, the HTTP token) to the process's one redactor,
// textsafe.Redact, which the log, result.json, status and doctor apply: a
// vendor may echo a secret, even another account's, in an error answer.
func redactSecrets(cfg *config.Config) {
	for _, s := range cfg.Secrets() {
		textsafe.AddSecret(s.Reveal())
	}
}
