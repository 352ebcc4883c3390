package api_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/internal/apikeys"
)

// from sends a request as the client at remote (host:port), with optional X-Forwarded-For and
// bearer key.
func (b *testBundle) from(t *testing.T, remote, forwarded, path, key string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = remote
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, req)
	return rec
}

func TestPublicRoutesAreLimitedPerClientIP(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *api.Config) { c.Limits = api.Limits{Public: 3} })
	pixel := "/v1/t/o/" + uuid.NewString()
	for range 3 {
		require.Equal(t, http.StatusOK, b.from(t, "198.51.100.7:4000", "", pixel, "").Code)
	}
	refused := b.from(t, "198.51.100.7:4000", "", pixel, "")
	require.Equal(t, http.StatusTooManyRequests, refused.Code)
	retry, err := strconv.Atoi(refused.Header().Get("Retry-After"))
	require.NoError(t, err)
	require.Positive(t, retry)
	require.Contains(t, refused.Body.String(), "Rate limit exceeded")

	// A public client cannot pick its own identity with X-Forwarded-For…
	require.Equal(t, http.StatusTooManyRequests, b.from(t, "198.51.100.7:4000", "203.0.113.50", pixel, "").Code)
	// …but a trusted proxy (a private address by default) names its clients.
	for range 3 {
		require.Equal(t, http.StatusOK, b.from(t, "10.0.0.2:5000", "203.0.113.51", pixel, "").Code)
	}
	require.Equal(t, http.StatusTooManyRequests, b.from(t, "10.0.0.2:5000", "203.0.113.51", pixel, "").Code)
	// Another client has its own budget, and probes are never limited.
	require.Equal(t, http.StatusOK, b.from(t, "198.51.100.8:4000", "", pixel, "").Code)
	for range 5 {
		require.Equal(t, http.StatusOK, b.from(t, "198.51.100.7:4000", "", "/v1/health/live", "").Code)
	}
}

func TestFailedAuthenticationIsLimitedPerClientIP(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *api.Config) { c.Limits = api.Limits{AuthFailures: 2} })
	good := b.key(t, apikeys.Read)
	const path = "/v1/admin/api-keys"
	require.Equal(t, http.StatusOK, b.from(t, "198.51.100.9:1", "", path, good).Code, "successes cost nothing")
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, b.from(t, "198.51.100.9:1", "", path, "hs_bogus").Code)
	}
	// The budget is spent: this IP waits, even with a valid key, and no lookup happens.
	refused := b.from(t, "198.51.100.9:1", "", path, good)
	require.Equal(t, http.StatusTooManyRequests, refused.Code)
	require.NotEmpty(t, refused.Header().Get("Retry-After"))
	require.Equal(t, http.StatusOK, b.from(t, "198.51.100.10:1", "", path, good).Code)
}

// Platform §18 10: each key has its own admin budget; the legacy key shares one; a spent budget
// answers 429 with the reference's headers. The window is long so nothing refills mid-test.
func TestAdminRoutesAreLimitedPerKey(t *testing.T) {
	t.Parallel()
	b := setupWith(t, func(c *api.Config) { c.Limits = api.Limits{Admin: 5, Window: time.Hour} })
	one, other := b.key(t, apikeys.FullAdmin), b.key(t, apikeys.Read)
	const path = "/v1/admin/api-keys"
	for want := 4; want >= 0; want-- {
		res := b.do(t, http.MethodGet, path, one, nil)
		require.Equal(t, http.StatusOK, res.Code)
		require.Equal(t, "5", res.Header().Get("X-RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(want), res.Header().Get("X-RateLimit-Remaining"))
	}
	refused := b.do(t, http.MethodGet, path, one, nil)
	require.Equal(t, http.StatusTooManyRequests, refused.Code)
	require.Equal(t, map[string]any{"error": "Rate limit exceeded"}, refused.json())
	require.Equal(t, "3600", refused.Header().Get("Retry-After"), "the whole window")
	require.Equal(t, "0", refused.Header().Get("X-RateLimit-Remaining"))
	// A refused mutation is not audited either.
	require.Equal(t, http.StatusTooManyRequests, b.do(t, http.MethodPost, path, one, map[string]any{"name": "x"}).Code)
	var audited int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM audit_logs`).Scan(&audited))
	require.Zero(t, audited)

	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, path, other, nil).Code, "another key has its own budget")
	for range 5 {
		require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, path, legacyKey, nil).Code)
	}
	require.Equal(t, http.StatusTooManyRequests, b.do(t, http.MethodGet, path, legacyKey, nil).Code)
	// The data plane is not on the admin budget.
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/contacts/find?userId=u", b.key(t, apikeys.Ingest), nil).Code)

	// Off (NODE_ENV=test, RATE_LIMIT_DISABLED): no 429 and no headers.
	off := setup(t)
	for range 7 {
		res := off.do(t, http.MethodGet, path, legacyKey, nil)
		require.Equal(t, http.StatusOK, res.Code)
		require.Empty(t, res.Header().Get("X-RateLimit-Limit"))
	}
}
