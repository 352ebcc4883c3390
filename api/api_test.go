package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/imports"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/schema"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

const legacyKey = "test-admin-api-key"

// fakeTemporal answers health checks as told.
type fakeTemporal struct{ err error }

func (f *fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &client.CheckHealthResponse{}, nil
}

type testBundle struct {
	srv      *api.Server
	pool     *pgxpool.Pool
	keys     *apikeys.Service
	ingest   *ingest.Service
	temporal *fakeTemporal
	logs     *bytes.Buffer
}

// fuzzBundle gives a fuzz target a migrated database and an ingest service on it.
func fuzzBundle(f *testing.F) *testBundle {
	pool, _ := schematest.TestDB(f)
	return &testBundle{pool: pool, ingest: &ingest.Service{DB: pool}}
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, func(*api.Config) {})
}

// setupWith is setup with changes to the API's configuration; its limits are off unless the
// change turns them on.
func setupWith(t *testing.T, change func(*api.Config)) *testBundle {
	t.Helper()
	pool, _ := schematest.TestDB(t)
	b := &testBundle{pool: pool, temporal: &fakeTemporal{}, logs: &bytes.Buffer{}}
	b.keys = &apikeys.Service{DB: pool, LegacyKey: legacyKey}
	b.ingest = &ingest.Service{DB: pool}
	cfg := api.Config{
		Limits:         api.Limits{Disabled: true},
		DB:             pool,
		Ingest:         b.ingest,
		Imports:        &imports.Service{DB: pool},
		Journeys:       &journeys.Admin{Ingest: b.ingest, Registry: emptyRegistry(t)},
		Temporal:       b.temporal,
		Keys:           b.keys,
		Logger:         slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Tracks:         []schema.Track{schema.Engine(), schema.Client(nil)},
		TrustedOrigins: []string{"https://studio.example.com"},
		Version:        "test",
	}
	change(&cfg)
	b.srv = api.New(cfg)
	return b
}

type response struct {
	*httptest.ResponseRecorder
	t *testing.T
}

func (r response) json() map[string]any {
	r.t.Helper()
	var out map[string]any
	require.NoError(r.t, json.Unmarshal(r.Body.Bytes(), &out), r.Body.String())
	return out
}

func (b *testBundle) do(t *testing.T, method, path, key string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	default:
		raw, err := json.Marshal(v)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	b.srv.ServeHTTP(rec, req)
	return response{rec, t}
}

// key creates a key with the scopes straight through the service.
func (b *testBundle) key(t *testing.T, scopes ...apikeys.Scope) string {
	t.Helper()
	k, err := b.keys.Create(context.Background(), apikeys.NewKey{Name: "test " + time.Now().String(), Scopes: scopes})
	require.NoError(t, err)
	return k.Token
}

// below is, for each minimum scope, a key scope that must be refused.
var below = map[apikeys.Scope]apikeys.Scope{
	apikeys.Read:         apikeys.Ingest, // ingest has no rank on the admin ladder
	apikeys.JourneyAdmin: apikeys.Read,
	apikeys.FullAdmin:    apikeys.JourneyAdmin,
	apikeys.Ingest:       apikeys.JourneyAdmin, // the ladder does not imply ingest below full-admin
}

// minimumScope is the specified minimum scope of every route (spec/platform.md §5). A route
// missing here fails the test, so every new route states its scope twice: in the table and here.
var minimumScope = map[string]apikeys.Scope{
	"GET /v1/admin/metrics/overview":                               apikeys.Read,
	"GET /v1/admin/metrics/journeys":                               apikeys.Read,
	"GET /v1/admin/metrics/journeys/:id":                           apikeys.Read,
	"GET /v1/admin/metrics/emails":                                 apikeys.Read,
	"GET /v1/admin/metrics/emails/deliverability":                  apikeys.Read,
	"GET /v1/admin/metrics/events":                                 apikeys.Read,
	"GET /v1/admin/reporting/templates/:key":                       apikeys.Read,
	"GET /v1/admin/reporting/contacts/:id/activity":                apikeys.Read,
	"GET /v1/admin/reporting/sends/export":                         apikeys.FullAdmin,
	"GET /v1/admin/buckets":                                        apikeys.Read,
	"GET /v1/admin/metrics/buckets":                                apikeys.Read,
	"GET /v1/admin/metrics/buckets/:id":                            apikeys.Read,
	"GET /v1/admin/buckets/:id":                                    apikeys.Read,
	"PATCH /v1/admin/buckets/:id":                                  apikeys.JourneyAdmin,
	"GET /v1/admin/buckets/:id/members":                            apikeys.Read,
	"GET /v1/admin/emails":                                         apikeys.Read,
	"GET /v1/admin/emails/:id":                                     apikeys.Read,
	"POST /v1/admin/emails/:id/resend":                             apikeys.FullAdmin,
	"GET /v1/admin/templates":                                      apikeys.Read,
	"GET /v1/admin/templates/:key/preview":                         apikeys.Read,
	"POST /v1/admin/templates/:key/send-test":                      apikeys.FullAdmin,
	"GET /v1/admin/suppressions":                                   apikeys.Read,
	"POST /v1/emails":                                              apikeys.Ingest,
	"GET /v1/lists":                                                apikeys.Ingest,
	"POST /v1/lists/:id/subscribe":                                 apikeys.Ingest,
	"POST /v1/lists/:id/unsubscribe":                               apikeys.Ingest,
	"POST /v1/campaigns":                                           apikeys.Ingest,
	"GET /v1/campaigns/:id":                                        apikeys.Ingest,
	"POST /v1/campaigns/:id/pause":                                 apikeys.Ingest,
	"POST /v1/campaigns/:id/resume":                                apikeys.Ingest,
	"POST /v1/campaigns/:id/cancel":                                apikeys.Ingest,
	"GET /v1/admin/campaigns":                                      apikeys.Read,
	"GET /v1/admin/webhooks":                                       apikeys.FullAdmin,
	"POST /v1/admin/webhooks":                                      apikeys.FullAdmin,
	"GET /v1/admin/webhooks/:id":                                   apikeys.FullAdmin,
	"PATCH /v1/admin/webhooks/:id":                                 apikeys.FullAdmin,
	"DELETE /v1/admin/webhooks/:id":                                apikeys.FullAdmin,
	"POST /v1/admin/webhooks/:id/rotate-secret":                    apikeys.FullAdmin,
	"POST /v1/admin/webhooks/:id/test":                             apikeys.FullAdmin,
	"GET /v1/admin/webhooks/:id/deliveries":                        apikeys.FullAdmin,
	"POST /v1/admin/webhooks/:id/deliveries/:deliveryId/redeliver": apikeys.FullAdmin,
	"GET /v1/admin/dlq":                                            apikeys.FullAdmin,
	"POST /v1/admin/dlq/:id/retry":                                 apikeys.FullAdmin,
	"DELETE /v1/admin/dlq/:id":                                     apikeys.FullAdmin,
	"GET /v1/t/o/:id":                                              api.Public,
	"GET /v1/t/c/:id":                                              api.Public,
	"GET /v1/email/unsubscribe":                                    api.Public,
	"POST /v1/email/unsubscribe":                                   api.Public,
	"GET /v1/email/preferences":                                    api.Public,
	"POST /v1/webhooks/resend":                                     api.Public,
	"GET /v1/admin/journeys":                                       apikeys.Read,
	"GET /v1/admin/journeys/:id":                                   apikeys.Read,
	"PATCH /v1/admin/journeys/:id":                                 apikeys.JourneyAdmin,
	"PUT /v1/admin/journeys/:id":                                   apikeys.JourneyAdmin,
	"GET /v1/admin/journeys/:id/states":                            apikeys.Read,
	"GET /v1/admin/journeys/:id/states/:stateId":                   apikeys.Read,
	"DELETE /v1/admin/journeys/:id/states/:stateId":                apikeys.JourneyAdmin,
	"POST /v1/admin/journeys/:id/enroll":                           apikeys.JourneyAdmin,
	"POST /v1/admin/journeys/:id/enroll/batch":                     apikeys.JourneyAdmin,
	"GET /v1/admin/journey-logs/:stateId":                          apikeys.Read,
	"GET /v1/health":                                               api.Public,
	"GET /v1/health/live":                                          api.Public,
	"GET /v1/health/ready":                                         api.Public,
	"PUT /v1/contacts":                                             apikeys.Ingest,
	"GET /v1/contacts/find":                                        apikeys.Ingest,
	"DELETE /v1/contacts":                                          apikeys.Ingest,
	"POST /v1/events":                                              apikeys.Ingest,
	"POST /v1/events/batch":                                        apikeys.Ingest,
	"GET /v1/admin/contacts":                                       apikeys.Read,
	"POST /v1/admin/contacts":                                      apikeys.FullAdmin,
	"GET /v1/admin/contacts/export":                                apikeys.FullAdmin,
	"POST /v1/admin/contacts/import":                               apikeys.FullAdmin,
	"GET /v1/admin/contacts/import/:jobId":                         apikeys.Read,
	"GET /v1/admin/contacts/:id":                                   apikeys.Read,
	"PATCH /v1/admin/contacts/:id":                                 apikeys.FullAdmin,
	"DELETE /v1/admin/contacts/:id":                                apikeys.FullAdmin,
	"GET /v1/admin/contacts/:id/preferences":                       apikeys.Read,
	"PUT /v1/admin/contacts/:id/preferences":                       apikeys.FullAdmin,
	"GET /v1/admin/contacts/:id/timeline":                          apikeys.Read,
	"GET /v1/admin/events":                                         apikeys.Read,
	"POST /v1/admin/events":                                        apikeys.JourneyAdmin,
	"POST /v1/admin/events/replay":                                 apikeys.FullAdmin,
	"GET /v1/admin/events/:id":                                     apikeys.Read,
	"GET /v1/admin/api-keys":                                       apikeys.Read,
	"POST /v1/admin/api-keys":                                      apikeys.FullAdmin,
	"DELETE /v1/admin/api-keys/:id":                                apikeys.FullAdmin,
	"POST /v1/admin/api-keys/:id/rotate":                           apikeys.FullAdmin,
	"POST /v1/webhooks/:sourceId":                                  api.Public,
	"GET /v1/admin/audit-logs":                                     apikeys.Read,
	"GET /v1/admin/alerts/rules":                                   apikeys.Read,
	"POST /v1/admin/alerts/rules":                                  apikeys.FullAdmin,
	"PATCH /v1/admin/alerts/rules/:id":                             apikeys.FullAdmin,
	"DELETE /v1/admin/alerts/rules/:id":                            apikeys.FullAdmin,
	"GET /v1/admin/alerts/history":                                 apikeys.Read,
}

// TestEveryRouteEnforcesItsMinimumScope walks the route table: without a key every protected
// route answers 401, with the scope just below its specified minimum 403, and with the minimum
// neither.
func TestEveryRouteEnforcesItsMinimumScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	keys := map[apikeys.Scope]string{}
	for _, sc := range apikeys.AllScopes {
		keys[sc] = b.key(t, sc)
	}
	routes := b.srv.Routes()
	require.Len(t, routes, len(minimumScope))
	for _, r := range routes {
		path := strings.NewReplacer(":id", "00000000-0000-4000-8000-000000000000", ":jobId", "00000000-0000-4000-8000-000000000000",
			":stateId", "00000000-0000-4000-8000-000000000000", ":key", "welcome").Replace(r.Path)
		name := r.Method + " " + r.Path
		want, ok := minimumScope[name]
		require.True(t, ok, "route %s has no specified scope in minimumScope", name)
		if want == api.Public {
			res := b.do(t, r.Method, path, "", nil)
			require.NotEqual(t, http.StatusUnauthorized, res.Code, name)
			continue
		}
		res := b.do(t, r.Method, path, "", nil)
		require.Equal(t, http.StatusUnauthorized, res.Code, name)
		require.Equal(t, map[string]any{"error": "Unauthorized"}, res.json(), name)

		res = b.do(t, r.Method, path, "hsk_not_a_real_key", nil)
		require.Equal(t, http.StatusUnauthorized, res.Code, name)

		lower, ok := below[want]
		require.True(t, ok, "route %s has an unknown scope %q", name, want)
		res = b.do(t, r.Method, path, keys[lower], nil)
		require.Equal(t, http.StatusForbidden, res.Code, "%s with a %s key", name, lower)
		require.Equal(t, "Forbidden: insufficient scope", res.json()["error"], name)

		for _, enough := range []string{keys[want], keys[apikeys.FullAdmin], legacyKey} {
			res = b.do(t, r.Method, path, enough, nil)
			require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, res.Code, "%s: %s", name, res.Body.String())
		}
	}
}

func TestScopeLadder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		have []string
		need apikeys.Scope
		ok   bool
	}{
		{[]string{"read"}, apikeys.Read, true},
		{[]string{"read"}, apikeys.JourneyAdmin, false},
		{[]string{"journey-admin"}, apikeys.Read, true},
		{[]string{"journey-admin"}, apikeys.Ingest, false},
		{[]string{"full-admin"}, apikeys.Ingest, true},
		{[]string{"full-admin"}, apikeys.FullAdmin, true},
		{[]string{"ingest"}, apikeys.Read, false},
		{[]string{"ingest"}, apikeys.Ingest, true},
		{[]string{"bogus", "read"}, apikeys.Read, true},
		{nil, apikeys.Read, false},
	}
	for _, c := range cases {
		require.Equal(t, c.ok, apikeys.HasScope(c.have, c.need), "%v needs %s", c.have, c.need)
	}
}

func TestKeyLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)

	res := b.do(t, http.MethodPost, "/v1/admin/api-keys", legacyKey, map[string]any{"name": "ci", "scopes": []string{"read", "full-admin"}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	created := res.json()
	token := created["key"].(string)
	require.True(t, strings.HasPrefix(token, "hsk_"))
	require.Len(t, token, 47)
	require.Equal(t, token[:8], created["keyPrefix"])
	require.Equal(t, []any{"read", "full-admin"}, created["scopes"])
	require.Nil(t, created["expiresAt"])
	id := created["id"].(string)

	// The new key works at once, and the listing never shows a key or hash.
	res = b.do(t, http.MethodGet, "/v1/admin/api-keys", token, nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.NotContains(t, res.Body.String(), token)
	require.NotContains(t, res.Body.String(), apikeys.Hash(token))
	list := res.json()
	require.EqualValues(t, 1, list["total"])
	require.EqualValues(t, 50, list["limit"])
	entry := list["keys"].([]any)[0].(map[string]any)
	require.Equal(t, "legacy", entry["createdBy"])
	require.NotContains(t, entry, "key")

	// Revoke: the key is refused at once on this instance, despite the positive cache.
	res = b.do(t, http.MethodDelete, "/v1/admin/api-keys/"+id, legacyKey, nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, map[string]any{"revoked": true}, res.json())
	res = b.do(t, http.MethodGet, "/v1/admin/api-keys", token, nil)
	require.Equal(t, http.StatusUnauthorized, res.Code)

	res = b.do(t, http.MethodDelete, "/v1/admin/api-keys/"+id, legacyKey, nil)
	require.Equal(t, http.StatusNotFound, res.Code)
	require.Equal(t, "API key not found or already revoked", res.json()["error"])

	// Revoked keys are listed only on request.
	res = b.do(t, http.MethodGet, "/v1/admin/api-keys?includeRevoked=true", legacyKey, nil)
	require.EqualValues(t, 1, res.json()["total"])
	res = b.do(t, http.MethodGet, "/v1/admin/api-keys", legacyKey, nil)
	require.EqualValues(t, 0, res.json()["total"])
}

func TestExpiredKeyIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	res := b.do(t, http.MethodPost, "/v1/admin/api-keys", legacyKey, map[string]any{"name": "old", "scopes": []string{"read"}, "expiresAt": past})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	token := res.json()["key"].(string)
	res = b.do(t, http.MethodGet, "/v1/admin/api-keys", token, nil)
	require.Equal(t, http.StatusUnauthorized, res.Code)
	require.Equal(t, map[string]any{"error": "API key expired"}, res.json())
}

func TestKeyExpiresWhileCached(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := time.Now()
	b.keys.Now = func() time.Time { return now }
	soon := now.Add(time.Second)
	k, err := b.keys.Create(context.Background(), apikeys.NewKey{Name: "brief", Scopes: []apikeys.Scope{apikeys.Read}, ExpiresAt: &soon})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/admin/api-keys", k.Token, nil).Code)
	now = now.Add(2 * time.Second) // still inside the cache TTL
	res := b.do(t, http.MethodGet, "/v1/admin/api-keys", k.Token, nil)
	require.Equal(t, http.StatusUnauthorized, res.Code)
	require.Equal(t, "API key expired", res.json()["error"])
}

func TestRotateKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	future := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	old, err := b.keys.Create(context.Background(), apikeys.NewKey{Name: "deploy", Scopes: []apikeys.Scope{apikeys.Ingest, apikeys.Read}, ExpiresAt: &future})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/admin/api-keys", old.Token, nil).Code)

	res := b.do(t, http.MethodPost, "/v1/admin/api-keys/"+old.ID+"/rotate", legacyKey, nil)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	body := res.json()
	require.Equal(t, old.ID, body["rotatedFrom"])
	require.Equal(t, "deploy", body["name"])
	require.Equal(t, []any{"ingest", "read"}, body["scopes"])
	require.Equal(t, future.Format("2006-01-02T15:04:05.000Z"), body["expiresAt"])
	require.NotEqual(t, old.Token, body["key"])

	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodGet, "/v1/admin/api-keys", old.Token, nil).Code)
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/admin/api-keys", body["key"].(string), nil).Code)
	res = b.do(t, http.MethodPost, "/v1/admin/api-keys/"+old.ID+"/rotate", legacyKey, nil)
	require.Equal(t, http.StatusNotFound, res.Code)
}

func TestCreateKeyValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := []struct {
		body  any
		field string
	}{
		{map[string]any{}, "name"},
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": strings.Repeat("x", 101)}, "name"},
		{map[string]any{"name": 7}, "name"},
		{map[string]any{"name": "k", "scopes": []string{}}, "scopes"},
		{map[string]any{"name": "k", "scopes": []string{"root"}}, "scopes"},
		{map[string]any{"name": "k", "expiresAt": "tomorrow"}, "expiresAt"},
		{`{"name": "k"`, "body"},
		{`[1,2]`, "body"},
		{nil, "body"},
	}
	for _, c := range cases {
		res := b.do(t, http.MethodPost, "/v1/admin/api-keys", legacyKey, c.body)
		require.Equal(t, http.StatusBadRequest, res.Code, "%v: %s", c.body, res.Body.String())
		body := res.json()
		require.Equal(t, false, body["success"])
		require.Contains(t, body["error"], "Invalid request: "+c.field)
		issues := body["issues"].([]any)
		require.NotEmpty(t, issues)
		require.Equal(t, []any{c.field}, issues[0].(map[string]any)["path"])
	}
	// Nothing was created by any of them.
	res := b.do(t, http.MethodGet, "/v1/admin/api-keys?includeRevoked=true", legacyKey, nil)
	require.EqualValues(t, 0, res.json()["total"])

	res = b.do(t, http.MethodDelete, "/v1/admin/api-keys/not-a-uuid", legacyKey, nil)
	require.Equal(t, http.StatusBadRequest, res.Code)
	res = b.do(t, http.MethodGet, "/v1/admin/api-keys?limit=0", legacyKey, nil)
	require.Equal(t, http.StatusBadRequest, res.Code)
	res = b.do(t, http.MethodGet, "/v1/admin/api-keys?limit=101&offset=-1&includeRevoked=yes", legacyKey, nil)
	require.Equal(t, http.StatusBadRequest, res.Code)
	require.Len(t, res.json()["issues"], 3, "every problem is listed")
}

func TestBearerSchemeIsStrict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, h := range []string{"bearer " + legacyKey, "Bearer  " + legacyKey, "Basic " + legacyKey, legacyKey, "Bearer "} {
		req := httptest.NewRequest(http.MethodGet, "/v1/admin/api-keys", nil)
		req.Header.Set("Authorization", h)
		rec := httptest.NewRecorder()
		b.srv.ServeHTTP(rec, req)
		require.Equal(t, http.StatusUnauthorized, rec.Code, h)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Anyone gets the verdict; the details need a read key.
	public := b.do(t, http.MethodGet, "/v1/health", "", nil)
	require.Equal(t, http.StatusOK, public.Code)
	require.ElementsMatch(t, []string{"status", "timestamp"}, slices.Collect(maps.Keys(public.json())))
	require.Equal(t, "healthy", public.json()["status"])
	require.Equal(t, []string{"status", "timestamp"}, slices.Sorted(maps.Keys(b.do(t, http.MethodGet, "/v1/health", "hsk_bogus", nil).json())))
	require.Equal(t, []string{"status", "timestamp"}, slices.Sorted(maps.Keys(b.do(t, http.MethodGet, "/v1/health/ready", "", nil).json())))
	res := b.do(t, http.MethodGet, "/v1/health", b.key(t, apikeys.Read), nil)
	require.Equal(t, http.StatusOK, res.Code)
	body := res.json()
	require.Equal(t, "healthy", body["status"])
	require.Equal(t, "0.0.1", body["version"])
	require.IsType(t, float64(0), body["uptime"])
	comps := body["components"].(map[string]any)
	require.Equal(t, "up", comps["database"].(map[string]any)["status"])
	require.Equal(t, "up", comps["temporal"].(map[string]any)["status"])
	require.Equal(t, comps["temporal"], comps["redis"])
	require.Equal(t, "down", comps["worker"].(map[string]any)["status"], "no worker heartbeat yet")
	sch := body["schema"].(map[string]any)
	require.Equal(t, true, sch["engine"].(map[string]any)["inSync"])
	require.Equal(t, map[string]any{"applied": nil, "required": nil, "inSync": true, "pending": []any{}}, sch["client"])

	// Temporal down: still 200, degraded, database up; readiness does not depend on Temporal.
	b.temporal.err = errors.New("connection refused")
	body = b.do(t, http.MethodGet, "/v1/health", legacyKey, nil).json()
	require.Equal(t, "degraded", body["status"])
	require.Equal(t, "down", body["components"].(map[string]any)["temporal"].(map[string]any)["status"])
	require.Equal(t, "up", body["components"].(map[string]any)["database"].(map[string]any)["status"])
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/health/ready", "", nil).Code)
	require.Equal(t, map[string]any{"status": "ok"}, b.do(t, http.MethodGet, "/v1/health/live", "", nil).json())

	// A worker heartbeat makes the worker up.
	_, err := b.pool.Exec(context.Background(), `INSERT INTO worker_heartbeats (worker_id, task_queue, hostname, engine_version, last_seen_at)
		VALUES ('w1', 'hogsend', 'h', 'v', now())`)
	require.NoError(t, err)
	worker := b.do(t, http.MethodGet, "/v1/health", legacyKey, nil).json()["components"].(map[string]any)["worker"].(map[string]any)
	require.Equal(t, "up", worker["status"])
	require.NotEmpty(t, worker["lastSeenAt"])

	// A pending engine migration: migration_pending, and not ready.
	_, err = b.pool.Exec(context.Background(), `DELETE FROM schema_migrations WHERE track = 'engine'
		AND version = (SELECT max(version) FROM schema_migrations WHERE track = 'engine')`)
	require.NoError(t, err)
	res = b.do(t, http.MethodGet, "/v1/health", legacyKey, nil)
	require.Equal(t, http.StatusOK, res.Code)
	body = res.json()
	require.Equal(t, "migration_pending", body["status"])
	migs, err := schema.Engine().Migrations()
	require.NoError(t, err)
	require.Equal(t, []any{migs[len(migs)-1].Tag}, body["schema"].(map[string]any)["engine"].(map[string]any)["pending"])
	require.Equal(t, http.StatusServiceUnavailable, b.do(t, http.MethodGet, "/v1/health/ready", "", nil).Code)
}

func TestHTTPStack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, http.MethodGet, "/v1/health/live", "", nil)
	require.Equal(t, "nosniff", res.Header().Get("X-Content-Type-Options"))
	require.Equal(t, "SAMEORIGIN", res.Header().Get("X-Frame-Options"))
	require.Equal(t, "no-referrer", res.Header().Get("Referrer-Policy"))
	require.Equal(t, "*", res.Header().Get("Access-Control-Allow-Origin"))
	require.Len(t, res.Header().Get("X-Request-Id"), 36, "a UUID is generated")

	res = b.do(t, http.MethodGet, "/v1/health/live", "", nil, "X-Request-Id", "test-123")
	require.Equal(t, "test-123", res.Header().Get("X-Request-Id"))
	res = b.do(t, http.MethodGet, "/v1/health/live", "", nil, "X-Request-Id", "bad id with spaces")
	require.NotEqual(t, "bad id with spaces", res.Header().Get("X-Request-Id"))

	// Unknown paths are JSON 404s, never redirects or 405s.
	for _, p := range []string{"/health", "/v1/health/", "/V1/HEALTH", "/nope"} {
		res = b.do(t, http.MethodGet, p, "", nil)
		require.Equal(t, http.StatusNotFound, res.Code, p)
		require.Equal(t, map[string]any{"error": "Not Found"}, res.json(), p)
	}
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodPatch, "/v1/health", "", nil).Code)

	// Under guarded prefixes, auth comes before route matching.
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodGet, "/v1/admin/nope", "", nil).Code)
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodGet, "/v1/events/nope", "", nil).Code)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/admin/nope", legacyKey, nil).Code)

	// Preflight.
	res = b.do(t, http.MethodOptions, "/v1/health", "", nil, "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	require.Equal(t, http.StatusNoContent, res.Code)
	require.Empty(t, res.Body.String())
	require.Equal(t, "*", res.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, "GET,HEAD,PUT,POST,DELETE,PATCH", res.Header().Get("Access-Control-Allow-Methods"))
	require.Equal(t, "authorization,content-type", res.Header().Get("Access-Control-Allow-Headers"))

	// A trusted origin is echoed with credentials.
	res = b.do(t, http.MethodGet, "/v1/health/live", "", nil, "Origin", "https://studio.example.com")
	require.Equal(t, "https://studio.example.com", res.Header().Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", res.Header().Get("Access-Control-Allow-Credentials"))

	// One request log line at the http level.
	require.Contains(t, b.logs.String(), `"msg":"request"`)
	require.Contains(t, b.logs.String(), `"requestId":"test-123"`)
}

func TestPanicsAndInternalErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.pool.Close() // every query now fails with a driver error
	res := b.do(t, http.MethodGet, "/v1/admin/api-keys", "hsk_unknown_key_that_needs_a_lookup", nil)
	require.Equal(t, http.StatusInternalServerError, res.Code)
	require.Equal(t, map[string]any{"error": "Internal Server Error"}, res.json())
	require.Contains(t, b.logs.String(), "closed pool")
}

func emptyRegistry(t *testing.T) *journey.Registry {
	r, err := journey.NewRegistry(nil, nil)
	require.NoError(t, err)
	return r
}
