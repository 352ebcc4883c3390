// Package mailer is the engine's tracked send pipeline. This file holds the unsubscribe and
// preference tokens: HMAC-signed, expiring, byte-compatible with the reference engine so links in
// mail it already sent keep working after a switch-over.
package mailer

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Token actions.
const (
	ActionUnsubscribe = "unsubscribe"
	ActionResubscribe = "resubscribe"
	ActionManage      = "manage"
)

// TokenLifetime is how long a token in an email stays valid.
const TokenLifetime = 30 * 24 * time.Hour

// TokenPayload is what a token says. The field order is the reference's JSON key order.
type TokenPayload struct {
	ExternalID string `json:"externalId"`
	Email      string `json:"email"`
	Action     string `json:"action"`
	Exp        int64  `json:"exp"`
	Category   string `json:"category,omitempty"`
}

// TokenError is a token that does not verify; its message is shown on the error page.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return e.Reason }

// Token errors, in the order they are checked.
var (
	ErrTokenMalformed  = &TokenError{"Malformed token"}
	ErrTokenSignature  = &TokenError{"Invalid token signature"}
	ErrTokenPayload    = &TokenError{"Malformed token payload"}
	ErrTokenIncomplete = &TokenError{"Incomplete token payload"}
	ErrTokenExpired    = &TokenError{"Token has expired"}
	// ErrTokenAction is a valid token used on an endpoint its action does not belong to (a
	// preference-center token on the unsubscribe endpoint, say).
	ErrTokenAction = &TokenError{"This link is not meant for this page"}
)

// Tokens signs and verifies with one secret.
type Tokens struct {
	Secret []byte
	Now    func() time.Time
}

func (t Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

var b64 = base64.RawURLEncoding

func (t Tokens) sign(encoded string) []byte {
	mac := hmac.New(sha256.New, t.Secret)
	mac.Write([]byte(encoded))
	return mac.Sum(nil)
}

// Sign encodes and signs a payload: base64url(json) + "." + base64url(hmac-sha256).
func (t Tokens) Sign(p TokenPayload) string {
	body, _ := json.Marshal(p) // a struct of strings and an int cannot fail
	return t.SignEncoded(b64.EncodeToString(body))
}

// SignEncoded signs an already encoded payload (the token's first part).
func (t Tokens) SignEncoded(encoded string) string {
	return encoded + "." + b64.EncodeToString(t.sign(encoded))
}

// New signs a token for action that expires after TokenLifetime.
func (t Tokens) New(externalID, email, action, category string) string {
	return t.Sign(TokenPayload{ExternalID: externalID, Email: email, Action: action, Category: category,
		Exp: t.now().Add(TokenLifetime).Unix()})
}

// Verify checks a token and returns its payload, or one of the token errors.
func (t Tokens) Verify(token string) (TokenPayload, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 2 {
		return TokenPayload{}, ErrTokenMalformed
	}
	sig, err := b64.DecodeString(parts[1])
	if err != nil || !hmac.Equal(sig, t.sign(parts[0])) { // constant time; a length mismatch fails
		return TokenPayload{}, ErrTokenSignature
	}
	body, err := b64.DecodeString(parts[0])
	if err != nil {
		return TokenPayload{}, ErrTokenPayload
	}
	var raw struct {
		ExternalID *string      `json:"externalId"`
		Email      *string      `json:"email"`
		Action     *string      `json:"action"`
		Exp        *json.Number `json:"exp"`
		Category   *string      `json:"category"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return TokenPayload{}, ErrTokenPayload
	}
	if raw.ExternalID == nil || *raw.ExternalID == "" || raw.Email == nil || *raw.Email == "" ||
		raw.Action == nil || *raw.Action == "" || raw.Exp == nil {
		return TokenPayload{}, ErrTokenIncomplete
	}
	exp, err := raw.Exp.Int64()
	if err != nil {
		f, ferr := raw.Exp.Float64()
		if ferr != nil {
			return TokenPayload{}, ErrTokenPayload
		}
		exp = int64(f)
	}
	if exp == 0 {
		return TokenPayload{}, ErrTokenIncomplete
	}
	if exp < t.now().Unix() {
		return TokenPayload{}, ErrTokenExpired
	}
	p := TokenPayload{ExternalID: *raw.ExternalID, Email: *raw.Email, Action: *raw.Action, Exp: exp}
	if raw.Category != nil {
		p.Category = *raw.Category
	}
	return p, nil
}
