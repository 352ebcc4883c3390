package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/schema/schematest"
)

// setupLists is setup with two lists: an opt-in one and a hidden (disabled) opt-out one.
func setupLists(t *testing.T) *testBundle {
	t.Helper()
	off := false
	lists, err := email.NewLists(nil,
		email.MustDefineList(email.ListDef{ID: "news", Name: "News", Description: "Monthly news"}),
		email.MustDefineList(email.ListDef{ID: "tips", Name: "Tips", DefaultOptIn: true}),
		email.MustDefineList(email.ListDef{ID: "legacy", Name: "Legacy", DefaultOptIn: true, Enabled: &off}))
	require.NoError(t, err)
	return setupWith(t, func(c *api.Config) { c.Mailer = mailer.New(mailer.Config{DB: c.DB, Lists: lists, Logger: c.Logger}) })
}

func TestListCatalogAndMembership(t *testing.T) {
	t.Parallel()
	b := setupLists(t)
	schematest.Subscribe(t, b.pool, "https://hooks.example/unsubscribed", "contact.unsubscribed")
	k := b.key(t, apikeys.Ingest)
	ctx := context.Background()
	categories := func(address string) map[string]bool {
		t.Helper()
		var cats map[string]bool
		require.NoError(t, b.pool.QueryRow(ctx, `SELECT categories FROM email_preferences WHERE email = $1`, address).Scan(&cats))
		return cats
	}

	// The catalog: enabled lists in registration order, no empty description, no enabled flag.
	res := b.do(t, http.MethodGet, "/v1/lists", k, nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.JSONEq(t, `{"lists":[{"id":"news","name":"News","description":"Monthly news","defaultOptIn":false},
		{"id":"tips","name":"Tips","defaultOptIn":true}]}`, res.Body.String())

	// Subscribe creates the contact and flips the flag on the normalized address; it is idempotent.
	for range 2 {
		res = b.do(t, http.MethodPost, "/v1/lists/news/subscribe", k, map[string]any{"email": " Ann@Example.com "})
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		require.JSONEq(t, `{"list":"news","subscribed":true}`, res.Body.String())
	}
	require.Equal(t, map[string]bool{"news": true}, categories("ann@example.com"))
	var contacts int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE email = 'ann@example.com'`).Scan(&contacts))
	require.Equal(t, 1, contacts)

	// Unsubscribe by userId flips the same key and announces contact.unsubscribed.
	res = b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": "ann", "email": "ann@example.com"})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	res = b.do(t, http.MethodPost, "/v1/lists/news/unsubscribe", k, map[string]any{"userId": "ann"})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	require.JSONEq(t, `{"list":"news","subscribed":false}`, res.Body.String())
	require.Equal(t, map[string]bool{"news": false}, categories("ann@example.com"))
	var unsubscribed int
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries
		WHERE event_type = 'contact.unsubscribed' AND payload->'data'->>'category' = 'news'`).Scan(&unsubscribed))
	require.Equal(t, 1, unsubscribed)

	// A hidden list is still addressable; subscribing never lifts a global unsubscribe.
	_, err := b.pool.Exec(ctx, `UPDATE email_preferences SET unsubscribed_all = true WHERE email = 'ann@example.com'`)
	require.NoError(t, err)
	res = b.do(t, http.MethodPost, "/v1/lists/legacy/subscribe", k, map[string]any{"email": "ann@example.com"})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	var all bool
	require.NoError(t, b.pool.QueryRow(ctx, `SELECT unsubscribed_all FROM email_preferences WHERE email = 'ann@example.com'`).Scan(&all))
	require.True(t, all)

	// Refusals, in the spec's order: unknown list, then the identity, then a recipient without email.
	for _, c := range []struct {
		path  string
		body  any
		code  int
		error string
	}{
		{"/v1/lists/nope/subscribe", map[string]any{}, http.StatusNotFound, "Unknown list: nope"},
		{"/v1/lists/news/subscribe", map[string]any{}, http.StatusBadRequest, "email or userId is required"},
		{"/v1/lists/news/subscribe", map[string]any{"email": "", "userId": "  "}, http.StatusBadRequest, "email or userId is required"},
		{"/v1/lists/news/unsubscribe", map[string]any{"userId": "no-email"}, http.StatusBadRequest, "Contact has no email; cannot manage list membership"},
		{"/v1/lists/news/subscribe", `{"email":`, http.StatusBadRequest, ""},
	} {
		res = b.do(t, http.MethodPost, c.path, k, c.body)
		require.Equal(t, c.code, res.Code, "%s %v: %s", c.path, c.body, res.Body.String())
		if c.error != "" {
			require.Equal(t, c.error, res.json()["error"])
		}
	}
	res = b.do(t, http.MethodGet, "/v1/lists", b.key(t, apikeys.Read), nil)
	require.Equal(t, http.StatusForbidden, res.Code)
}

func TestAnAppWithoutListsHasAnEmptyCatalog(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, http.MethodGet, "/v1/lists", b.key(t, apikeys.Ingest), nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.JSONEq(t, `{"lists":[]}`, res.Body.String())
}
