package textsafe

import (
	"encoding/json"
	"net/url"
	"strings"
	"sync"
)

// Redacted replaces a secret wherever Redact finds one.
const Redacted = "[redacted]"

// MinSecretLen is the shortest secret Redact masks. A shorter one is too
// likely to occur in ordinary text ("admin", a year, a word of a message)
// to be replaced without mangling the log; config warns about such
// secrets.
const MinSecretLen = 8

// secrets is the one list of secrets of the process: every sink that
// writes text a vendor or a drop may have shaped (the log, result.json and
// so webhooks and status, doctor) masks them with Redact. A vendor may
// echo a secret in an error answer, even another account's.
var secrets struct {
	mu   sync.RWMutex
	list []string
	seen map[string]bool
}

// AddSecret makes Redact mask s from now on, as it is and in its
// URL-encoded and JSON-escaped forms. A secret shorter than MinSecretLen
// is ignored. It is safe for concurrent use, and secrets are never
// removed: a replaced secret may still be echoed.
func AddSecret(s string) {
	if len(s) < MinSecretLen {
		return
	}
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s)}
	if b, err := json.Marshal(s); err == nil {
		// With and without HTML escaping (IndentJSON writes <, >, &).
		e := string(b[1 : len(b)-1])
		forms = append(forms, e, strings.NewReplacer(`\u0026`, "&", `\u003c`, "<", `\u003e`, ">").Replace(e))
	}
	secrets.mu.Lock()
	defer secrets.mu.Unlock()
	if secrets.seen == nil {
		secrets.seen = map[string]bool{}
	}
	for _, f := range forms {
		if !secrets.seen[f] {
			secrets.seen[f] = true
			secrets.list = append(secrets.list, f)
		}
	}
}

// Redact returns s with every secret given to AddSecret replaced by
// Redacted.
func Redact(s string) string {
	secrets.mu.RLock()
	defer secrets.mu.RUnlock()
	for _, v := range secrets.list {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, Redacted)
		}
	}
	return s
}

// RedactBytes is Redact for bytes (JSON about to be written).
func RedactBytes(b []byte) []byte {
	secrets.mu.RLock()
	defer secrets.mu.RUnlock()
	for _, v := range secrets.list {
		if strings.Contains(string(b), v) {
			b = []byte(strings.ReplaceAll(string(b), v, Redacted))
		}
	}
	return b
}
