package realsee

import (
	"context"
	"time"

	"github.com/scandrop/scandrop/vendors"
)

var (
	_ vendors.CredentialChecker = (*Vendor)(nil)
	_ vendors.SecretSetter      = (*Vendor)(nil)
)

// CheckCredentials asks the gateway for a new access token (POST
// /auth/access_token), the call every job starts with; see
// vendors.CredentialChecker. The gateway answers wrong credentials with
// code -1 "illegal app", an error of kind Auth. The token is kept for the
// jobs that follow.
func (v *Vendor) CheckCredentials(ctx context.Context) error {
	_, err := v.client.accessToken(ctx, true)
	return err
}

// SetSecret replaces the app secret and drops the token held, which the
// old secret fetched; see vendors.SecretSetter.
func (v *Vendor) SetSecret(secret string) {
	c := v.client
	c.mu.Lock()
	defer c.mu.Unlock()
	c.appSecret, c.token, c.expireAt = secret, "", time.Time{}
}
