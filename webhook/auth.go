package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// AuthKind is how a source authenticates a request.
type AuthKind string

const (
	// AuthMatch compares a header with a shared secret; unconfigured, the source is open.
	AuthMatch AuthKind = "match"
	// AuthSignature verifies a signature over the raw body; unconfigured, every request is refused.
	AuthSignature AuthKind = "signature"
)

// Scheme is a signature scheme.
type Scheme string

const (
	// SchemeSvix is Standard Webhooks as Svix sends them (Clerk, Supabase): svix-id,
	// svix-timestamp and svix-signature (or the webhook-* names), 5 minutes of tolerance.
	SchemeSvix Scheme = "svix"
	// SchemeStripe is Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">, 5 minutes.
	SchemeStripe Scheme = "stripe"
	// SchemeHMACHex is a hex HMAC of the body in one header: 64 digits are SHA-256, 40 digits
	// SHA-1 (what Segment actually sends).
	SchemeHMACHex Scheme = "hmac-hex"
)

// Tolerance is how far a signed timestamp may be from now, either way.
const Tolerance = 5 * time.Minute

// Auth says how a source proves a request came from its provider.
type Auth struct {
	Kind AuthKind
	// Header carries the shared secret (match) or the signature (hmac-hex; default x-signature).
	Header string
	// EnvKey names the environment variable holding the secret, read at each request.
	EnvKey string
	Scheme Scheme // signature only
	// FallbackMatchHeader (signature only) accepts a request whose header equals the secret
	// when its signature does not verify (Supabase database webhooks are unsigned).
	FallbackMatchHeader string
	// Verify replaces the scheme's check (signature only).
	Verify func(VerifyArgs) bool
}

// VerifyArgs is what a custom signature check sees.
type VerifyArgs struct {
	RawBody []byte
	Headers map[string]string // lower-cased names
	Secret  string
}

// The refusals of Authenticate; their text is the response's error.
var (
	ErrSignatureNotConfigured = errors.New("Webhook signature not configured")
	ErrInvalidSignature       = errors.New("Invalid webhook signature")
	ErrInvalidSecret          = errors.New("Invalid webhook secret")
)

func (a Auth) check(id string) error {
	switch a.Kind {
	case AuthMatch:
		return nil
	case AuthSignature:
		if a.EnvKey == "" {
			return fmt.Errorf("webhook source %s: a signature source needs EnvKey", id)
		}
		switch a.Scheme {
		case SchemeSvix, SchemeStripe, SchemeHMACHex:
			return nil
		}
		if a.Verify == nil {
			return fmt.Errorf("webhook source %s: unknown signature scheme %q and no Verify", id, a.Scheme)
		}
		return nil
	}
	return fmt.Errorf("webhook source %s: auth kind %q: want match or signature", id, a.Kind)
}

// Authenticate checks a request against the secret (secret "" = unset) over the exact bytes
// received. It fails closed: a signature source without a secret refuses everything.
func (a Auth) Authenticate(secret string, body []byte, headers map[string]string, now time.Time) error {
	if a.Kind == AuthMatch {
		if secret == "" {
			return nil
		}
		provided, ok := headers[strings.ToLower(a.Header)]
		if !ok || a.Header == "" {
			authz, has := headers["authorization"]
			if !has {
				return ErrInvalidSecret
			}
			provided = strings.Replace(authz, "Bearer ", "", 1)
		}
		if !equal(provided, secret) {
			return ErrInvalidSecret
		}
		return nil
	}
	if a.Kind != AuthSignature {
		return ErrInvalidSignature
	}
	if secret == "" {
		return ErrSignatureNotConfigured
	}
	args := VerifyArgs{RawBody: body, Headers: headers, Secret: secret}
	var ok bool
	if a.Verify != nil {
		ok = a.Verify(args)
	} else {
		ok = a.Scheme.verify(args, a.Header, now)
	}
	if !ok && a.FallbackMatchHeader != "" {
		v, has := headers[strings.ToLower(a.FallbackMatchHeader)]
		ok = has && equal(v, secret)
	}
	if !ok {
		return ErrInvalidSignature
	}
	return nil
}

func (s Scheme) verify(args VerifyArgs, header string, now time.Time) bool {
	switch s {
	case SchemeSvix:
		return VerifySvix(args.Secret, args.RawBody, args.Headers)
	case SchemeStripe:
		return VerifyStripe(args.Secret, args.RawBody, args.Headers["stripe-signature"], now)
	case SchemeHMACHex:
		if header == "" {
			header = "x-signature"
		}
		return VerifyHMACHex(args.Secret, args.RawBody, args.Headers[strings.ToLower(header)])
	}
	return false
}

// VerifySvix checks Standard Webhooks headers (svix-* or webhook-*) with the svix library.
// The secret may carry the whsec_ prefix and Supabase's leading "v1,".
func VerifySvix(secret string, body []byte, headers map[string]string) bool {
	id, ts, sig := headers["svix-id"], headers["svix-timestamp"], headers["svix-signature"]
	if id == "" && ts == "" && sig == "" {
		id, ts, sig = headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]
	}
	if id == "" || ts == "" || sig == "" {
		return false
	}
	wh, err := svix.NewWebhook(strings.TrimPrefix(secret, "v1,"))
	if err != nil {
		return false
	}
	h := http.Header{}
	h.Set("svix-id", id)
	h.Set("svix-timestamp", ts)
	h.Set("svix-signature", sig)
	return wh.Verify(body, h) == nil
}

// VerifyStripe checks a Stripe-Signature header: the last t= within Tolerance of now, and any
// v1= equal to the hex HMAC-SHA256 of "<t>.<body>" keyed with the whole secret string.
func VerifyStripe(secret string, body []byte, header string, now time.Time) bool {
	var t string
	var candidates []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "t":
			t = strings.TrimSpace(v)
		case "v1":
			candidates = append(candidates, strings.TrimSpace(v))
		}
	}
	if t == "" || len(candidates) == 0 {
		return false
	}
	sec, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(sec) || math.IsInf(sec, 0) {
		return false
	}
	if math.Abs(float64(now.Unix())-sec) > Tolerance.Seconds() {
		return false
	}
	expected := hexHMAC(sha256.New, secret, []byte(t), []byte("."), body)
	for _, c := range candidates {
		if equal(c, expected) {
			return true
		}
	}
	return false
}

// VerifyHMACHex checks a hex HMAC of the body: 64 digits as SHA-256, 40 as SHA-1. Lower-case
// hex only, like the providers send.
func VerifyHMACHex(secret string, body []byte, value string) bool {
	value = strings.TrimSpace(value)
	var h func() hash.Hash
	switch len(value) {
	case sha256.Size * 2:
		h = sha256.New
	case sha1.Size * 2:
		h = sha1.New
	default:
		return false
	}
	return equal(value, hexHMAC(h, secret, body))
}

func hexHMAC(h func() hash.Hash, secret string, parts ...[]byte) string {
	mac := hmac.New(h, []byte(secret))
	for _, p := range parts {
		mac.Write(p)
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// equal compares in constant time (for equal lengths: the length itself is not secret).
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
