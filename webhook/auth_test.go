package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	svix "github.com/svix/svix-webhooks/go"
)

const svixSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// svixHeaders signs body at ts with the svix library, under the given header prefix.
func svixHeaders(t *testing.T, secret, prefix string, ts time.Time, body []byte) map[string]string {
	t.Helper()
	wh, err := svix.NewWebhook(secret)
	require.NoError(t, err)
	sig, err := wh.Sign("msg_1", ts, body)
	require.NoError(t, err)
	return map[string]string{prefix + "-id": "msg_1", prefix + "-timestamp": fmt.Sprint(ts.Unix()), prefix + "-signature": sig}
}

func stripeHeader(secret string, t int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t, body)
	return fmt.Sprintf("t=%d,v1=%s", t, hex.EncodeToString(mac.Sum(nil)))
}

func TestSvixVerification(t *testing.T) {
	body := []byte(`{"type":"user.created"}`)
	now := time.Now()
	require.True(t, VerifySvix(svixSecret, body, svixHeaders(t, svixSecret, "svix", now, body)))
	require.True(t, VerifySvix(svixSecret, body, svixHeaders(t, svixSecret, "webhook", now, body)), "Standard Webhooks names (Supabase Auth Hooks)")
	require.True(t, VerifySvix("v1,"+svixSecret, body, svixHeaders(t, svixSecret, "svix", now, body)), "a secret as Supabase shows it")
	require.False(t, VerifySvix(svixSecret, []byte(`{"type":"user.deleted"}`), svixHeaders(t, svixSecret, "svix", now, body)), "another body")
	require.False(t, VerifySvix(svixSecret, body, svixHeaders(t, svixSecret, "svix", now.Add(-10*time.Minute), body)), "stale")
	require.False(t, VerifySvix(svixSecret, body, svixHeaders(t, svixSecret, "svix", now.Add(10*time.Minute), body)), "from the future")
	require.False(t, VerifySvix(svixSecret, body, map[string]string{}), "no headers")
	h := svixHeaders(t, svixSecret, "svix", now, body)
	delete(h, "svix-id")
	require.False(t, VerifySvix(svixSecret, body, h), "one header missing")
	require.False(t, VerifySvix("whsec_not base64!", body, svixHeaders(t, svixSecret, "svix", now, body)), "an undecodable secret")
	other := "whsec_" + strings.Repeat("A", 32)
	require.False(t, VerifySvix(other, body, svixHeaders(t, svixSecret, "svix", now, body)), "another secret")
}

func TestStripeVerification(t *testing.T) {
	const secret = "whsec_test"
	body := []byte(`{"id":"evt_1"}`)
	now := time.Now()
	good := stripeHeader(secret, now.Unix(), body)
	require.True(t, VerifyStripe(secret, body, good, now))
	require.True(t, VerifyStripe(secret, body, " "+strings.ReplaceAll(good, ",", " , ")+" ", now), "parts are trimmed")
	_, goodV1, _ := strings.Cut(good, ",")
	require.True(t, VerifyStripe(secret, body, fmt.Sprintf("t=%d,v1=%s,%s,v0=abc", now.Unix(), strings.Repeat("0", 64), goodV1), now), "any v1 candidate")
	require.True(t, VerifyStripe(secret, body, good, now.Add(299*time.Second)))
	require.False(t, VerifyStripe(secret, body, stripeHeader(secret, now.Unix()-600, body), now), "stale")
	require.False(t, VerifyStripe(secret, body, stripeHeader(secret, now.Unix()+600, body), now), "from the future")
	require.False(t, VerifyStripe(secret, []byte(`{"id":"evt_2"}`), good, now), "a changed body")
	require.False(t, VerifyStripe("whsec_other", body, good, now), "another secret")
	require.False(t, VerifyStripe(secret, body, goodV1, now), "no t")
	require.False(t, VerifyStripe(secret, body, fmt.Sprintf("t=%d", now.Unix()), now), "no v1")
	require.False(t, VerifyStripe(secret, body, strings.Replace(good, "t=", "t=x", 1), now), "t not a number")
	require.False(t, VerifyStripe(secret, body, "", now))
	require.False(t, VerifyStripe(secret, body, strings.ToUpper(good), now), "keys are case-sensitive")
}

func TestHMACHexVerification(t *testing.T) {
	const secret = "segment-secret"
	body := []byte(`{"type":"track"}`)
	sha256Hex := hexHMAC(sha256.New, secret, body)
	sha1Hex := hexHMAC(sha1.New, secret, body)
	require.True(t, VerifyHMACHex(secret, body, sha256Hex))
	require.True(t, VerifyHMACHex(secret, body, " "+sha256Hex+"\n"), "trimmed")
	require.True(t, VerifyHMACHex(secret, body, sha1Hex), "what Segment sends: SHA-1")
	require.False(t, VerifyHMACHex(secret, body, strings.ToUpper(sha256Hex)), "lower-case hex only")
	require.False(t, VerifyHMACHex("other", body, sha256Hex))
	require.False(t, VerifyHMACHex(secret, []byte(`{}`), sha1Hex))
	require.False(t, VerifyHMACHex(secret, body, sha256Hex[:63]))
	require.False(t, VerifyHMACHex(secret, body, ""))
}

func TestAuthenticateFailsClosed(t *testing.T) {
	body := []byte(`{}`)
	now := time.Now()
	sig := Auth{Kind: AuthSignature, Scheme: SchemeHMACHex, EnvKey: "X"}
	good := map[string]string{"x-signature": hexHMAC(sha256.New, "s3cret", body)}
	require.ErrorIs(t, sig.Authenticate("", body, good, now), ErrSignatureNotConfigured)
	require.NoError(t, sig.Authenticate("s3cret", body, good, now))
	require.ErrorIs(t, sig.Authenticate("s3cret", body, map[string]string{}, now), ErrInvalidSignature)
	require.ErrorIs(t, Auth{Kind: AuthSignature, Scheme: "rot13", EnvKey: "X"}.Authenticate("s3cret", body, good, now), ErrInvalidSignature, "unknown scheme")
	require.ErrorIs(t, Auth{Kind: "weird"}.Authenticate("s3cret", body, good, now), ErrInvalidSignature)

	custom := Auth{Kind: AuthSignature, EnvKey: "X", Verify: func(a VerifyArgs) bool { return a.Headers["x-token"] == a.Secret+string(a.RawBody) }}
	require.NoError(t, custom.Authenticate("k", body, map[string]string{"x-token": "k{}"}, now))
	require.ErrorIs(t, custom.Authenticate("k", body, map[string]string{"x-token": "k"}, now), ErrInvalidSignature)

	fallback := Auth{Kind: AuthSignature, Scheme: SchemeSvix, EnvKey: "X", FallbackMatchHeader: "x-fallback"}
	require.NoError(t, fallback.Authenticate(svixSecret, body, map[string]string{"x-fallback": svixSecret}, now))
	require.NoError(t, fallback.Authenticate(svixSecret, body, map[string]string{"x-fallback": svixSecret, "svix-id": "1", "svix-timestamp": "1", "svix-signature": "v1,bad"}, now),
		"the fallback is consulted whenever the signature fails")
	require.ErrorIs(t, fallback.Authenticate(svixSecret, body, map[string]string{"x-fallback": "nope"}, now), ErrInvalidSignature)

	match := Auth{Kind: AuthMatch, Header: "x-secret", EnvKey: "X"}
	require.NoError(t, match.Authenticate("", body, nil, now), "a match source without a secret is open")
	require.NoError(t, match.Authenticate("k", body, map[string]string{"x-secret": "k"}, now))
	require.NoError(t, match.Authenticate("k", body, map[string]string{"authorization": "Bearer k"}, now))
	require.ErrorIs(t, match.Authenticate("k", body, map[string]string{"x-secret": "", "authorization": "Bearer k"}, now), ErrInvalidSecret,
		"the configured header wins when present, even empty")
	require.ErrorIs(t, match.Authenticate("k", body, map[string]string{"x-secret": "K"}, now), ErrInvalidSecret)
	require.ErrorIs(t, match.Authenticate("k", body, map[string]string{}, now), ErrInvalidSecret)
	require.Equal(t, "Invalid webhook secret", ErrInvalidSecret.Error())
}
