package aholo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/scandrop/scandrop/vendors"
)

var (
	_ vendors.CredentialChecker = (*Vendor)(nil)
	_ vendors.SecretSetter      = (*Vendor)(nil)
)

// CheckCredentials makes one signed call, GET /upload/token; see
// vendors.CredentialChecker. Of the documented calls it is the most
// harmless that proves the credentials: a GET that every job makes first,
// needs no project id, and leaves nothing on the account (the upload token
// it hands out, unused, expires after ten minutes). The open platform
// answers a wrong appkey, appuid or signature, or a timestamp off by too
// much, with an error envelope: an error of kind Auth.
func (v *Vendor) CheckCredentials(ctx context.Context) error {
	const op = "aholo: credentials (GET /upload/token)"
	var t uploadToken
	err := v.client.api(ctx, op, http.MethodGet, "/upload/token", nil, nil, &t, false)
	var me *missingEndpoint
	switch {
	case errors.As(err, &me):
		return vendors.E(vendors.Rejected, "", fmt.Errorf("%w: the endpoint has no such API; check aholo.endpoint (it ends in /v2/aholo)", err))
	case vendors.KindOf(err) == vendors.Auth:
		return vendors.E(vendors.Auth, "", fmt.Errorf("%w; check app_key, app_secret and appuid, and this machine's clock (every call is signed with a timestamp)", err))
	case err != nil:
		return err
	case t.OUSToken == "":
		return vendors.E(vendors.Rejected, op, "the answer has no ousToken")
	}
	return nil
}

// SetSecret replaces the app secret of the open-platform signature; see
// vendors.SecretSetter. It does nothing when Config.Signer replaced that
// signature.
func (v *Vendor) SetSecret(secret string) {
	if s, ok := v.client.signer.(*secretSigner); ok {
		s.setSecret(secret)
	}
}

// secretSigner is an OpenAPISigner whose secret can be replaced while
// requests are being signed.
type secretSigner struct{ p atomic.Pointer[OpenAPISigner] }

func newSecretSigner(s OpenAPISigner) *secretSigner {
	ss := &secretSigner{}
	ss.p.Store(&s)
	return ss
}

func (s *secretSigner) Sign(r *http.Request) { s.p.Load().Sign(r) }

func (s *secretSigner) setSecret(secret string) {
	n := *s.p.Load()
	n.AppSecret = secret
	s.p.Store(&n)
}
