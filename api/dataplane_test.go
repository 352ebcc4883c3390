package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/schema/schematest"
)

var uniq = func() func(string) string {
	n := time.Now().UnixNano()
	return func(p string) string { n++; return fmt.Sprintf("%s-%d", p, n) }
}()

// eventsOf reads a user's stored events (the admin events route arrives with the admin plane).
func (b *testBundle) eventsOf(t *testing.T, userKey, name string) []map[string]any {
	t.Helper()
	rows, err := b.pool.Query(context.Background(), `SELECT properties, occurred_at FROM user_events
		WHERE user_id = $1 AND event = $2 ORDER BY occurred_at`, userKey, name)
	require.NoError(t, err)
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var props map[string]any
		var at time.Time
		require.NoError(t, rows.Scan(&props, &at))
		out = append(out, map[string]any{"properties": props, "occurredAt": at})
	}
	return out
}

func (b *testBundle) find(t *testing.T, key, query string) []any {
	t.Helper()
	res := b.do(t, http.MethodGet, "/v1/contacts/find?"+query, key, nil)
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	return res.json()["contacts"].([]any)
}

func TestDataPlaneAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	read, ingestKey := b.key(t, apikeys.Read), b.key(t, apikeys.Ingest)
	body := map[string]any{"name": "auth.probe", "userId": uniq("u")}
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodPost, "/v1/events", "", body).Code)
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodPost, "/v1/events", "hsk_bogus", body).Code)
	res := b.do(t, http.MethodPost, "/v1/events", read, body)
	require.Equal(t, http.StatusForbidden, res.Code)
	require.Contains(t, res.json()["error"], "scope")
	require.Equal(t, http.StatusAccepted, b.do(t, http.MethodPost, "/v1/events", ingestKey, body).Code)
	require.Equal(t, http.StatusAccepted, b.do(t, http.MethodPost, "/v1/events", legacyKey, body).Code)
	require.Equal(t, http.StatusForbidden, b.do(t, http.MethodPut, "/v1/contacts", read, map[string]any{"userId": "x"}).Code)
}

func TestIdentityGuard(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	for _, c := range []struct {
		method, path string
		body         any
		want         string
	}{
		{http.MethodPost, "/v1/events", map[string]any{"name": "x"}, "email or userId is required"},
		{http.MethodPut, "/v1/contacts", map[string]any{"properties": map[string]any{"x": 1}}, "email or userId is required"},
		{http.MethodGet, "/v1/contacts/find", nil, "email or userId is required"},
		{http.MethodDelete, "/v1/contacts", map[string]any{}, "email or userId is required"},
		{http.MethodPost, "/v1/events", map[string]any{"name": "x", "email": "not-an-email"}, "Invalid request: email"},
		{http.MethodPost, "/v1/events", map[string]any{"userId": "u"}, "Invalid request: name"},
		{http.MethodPost, "/v1/events", map[string]any{"name": "x", "userId": ""}, "Invalid request: userId"},
		{http.MethodPost, "/v1/events", map[string]any{"name": "x", "userId": "u", "eventProperties": "nope"}, "Invalid request: eventProperties"},
		{http.MethodPut, "/v1/contacts", map[string]any{"email": " a@b.co"}, "Invalid request: email"},
	} {
		res := b.do(t, c.method, c.path, k, c.body)
		require.Equal(t, http.StatusBadRequest, res.Code, "%s %s %v", c.method, c.path, c.body)
		require.Contains(t, res.json()["error"], c.want)
	}
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) FROM user_events)`).Scan(&n))
	require.Zero(t, n, "bad input changes nothing")
}

func TestPropertySplit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	u := uniq("u")
	res := b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "split.test", "userId": u, "email": uniq("e") + "@x.com",
		"eventProperties": map[string]any{"clickId": "c1", "page": "/p"}, "contactProperties": map[string]any{"plan": "pro", "company": "Acme"}})
	require.Equal(t, http.StatusAccepted, res.Code, res.Body.String())
	body := res.json()
	require.Equal(t, true, body["stored"])
	require.Equal(t, []any{}, body["exits"])
	require.NotContains(t, body, "listsError")

	events := b.eventsOf(t, u, "split.test")
	require.Len(t, events, 1)
	require.Equal(t, map[string]any{"clickId": "c1", "page": "/p"}, events[0]["properties"])
	contacts := b.find(t, k, "userId="+u)
	require.Len(t, contacts, 1)
	require.Equal(t, map[string]any{"plan": "pro", "company": "Acme"}, contacts[0].(map[string]any)["properties"])
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	u := uniq("u")
	send := func(body map[string]any, headers ...string) map[string]any {
		res := b.do(t, http.MethodPost, "/v1/events", k, body, headers...)
		require.Equal(t, http.StatusAccepted, res.Code, res.Body.String())
		return res.json()
	}
	first := send(map[string]any{"name": "idem", "userId": u, "eventProperties": map[string]any{"n": 1}}, "Idempotency-Key", "K-"+u)
	require.Equal(t, true, first["stored"])
	second := send(map[string]any{"name": "idem", "userId": u, "eventProperties": map[string]any{"n": 2},
		"contactProperties": map[string]any{"touched": true}}, "Idempotency-Key", "K-"+u)
	require.Equal(t, false, second["stored"])
	require.Equal(t, []any{}, second["exits"])
	events := b.eventsOf(t, u, "idem")
	require.Len(t, events, 1)
	require.EqualValues(t, 1, events[0]["properties"].(map[string]any)["n"])
	require.Empty(t, b.find(t, k, "userId="+u)[0].(map[string]any)["properties"], "a duplicate does not touch the contact")

	// The header beats the body.
	require.Equal(t, true, send(map[string]any{"name": "hb", "userId": u, "idempotencyKey": "K2-" + u}, "Idempotency-Key", "K1-"+u)["stored"])
	require.Equal(t, false, send(map[string]any{"name": "hb", "userId": u, "idempotencyKey": "K1-" + u})["stored"])
	require.Equal(t, true, send(map[string]any{"name": "hb", "userId": u, "idempotencyKey": "K2-" + u})["stored"])
	// A present but empty header means "no key", even with a body key.
	require.Equal(t, true, send(map[string]any{"name": "hb", "userId": u, "idempotencyKey": "K2-" + u}, "Idempotency-Key", "")["stored"])
}

func TestBackdating(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	u := uniq("u")
	res := b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "old", "userId": u, "timestamp": "2024-01-01T00:00:00.000Z"})
	require.Equal(t, http.StatusAccepted, res.Code)
	events := b.eventsOf(t, u, "old")
	require.Len(t, events, 1)
	require.True(t, events[0]["occurredAt"].(time.Time).Equal(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))
	res = b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "old", "userId": u, "timestamp": "2024-01-01T00:00:00+02:00"})
	require.Equal(t, http.StatusBadRequest, res.Code)
	require.Contains(t, res.json()["error"], "timestamp")
}

func TestEmailOnlyContactAndUpsertMerge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	tag := uniq("m")
	res := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"email": "Mixed.Case+" + tag + "@Example.com", "properties": map[string]any{"plan": "free"}})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	require.Equal(t, true, res.json()["created"])
	require.Equal(t, false, res.json()["linked"])
	found := b.find(t, k, "email=mixed.case%2B"+tag+"@example.com")
	require.Len(t, found, 1)
	c := found[0].(map[string]any)
	require.Nil(t, c["externalId"])
	require.Equal(t, "mixed.case+"+tag+"@example.com", c["email"])
	require.Equal(t, "free", c["properties"].(map[string]any)["plan"])

	u, e := uniq("u"), uniq("e")+"@x.com"
	first := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u, "email": e, "properties": map[string]any{"plan": "pro"}}).json()
	require.Equal(t, true, first["created"])
	second := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u, "properties": map[string]any{"tier": "gold"}}).json()
	require.Equal(t, first["id"], second["id"])
	require.Equal(t, false, second["created"])
	require.Equal(t, true, second["linked"])
	require.Equal(t, map[string]any{"plan": "pro", "tier": "gold"}, b.find(t, k, "userId="+u)[0].(map[string]any)["properties"])
	b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u, "properties": map[string]any{"plan": nil}})
	require.Equal(t, map[string]any{"tier": "gold"}, b.find(t, k, "userId="+u)[0].(map[string]any)["properties"])
}

func TestFillInLinkMovesHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	u, e := uniq("u"), uniq("e")+"@x.com"
	require.Equal(t, http.StatusAccepted, b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "pre.link", "email": e}).Code)
	id1 := b.find(t, k, "email="+e)[0].(map[string]any)["id"].(string)
	require.Len(t, b.eventsOf(t, id1, "pre.link"), 1, "an email-only contact's history is keyed by its id")

	res := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u, "email": e}).json()
	require.Equal(t, id1, res["id"])
	require.Equal(t, false, res["created"])
	require.Equal(t, true, res["linked"])
	require.Len(t, b.eventsOf(t, u, "pre.link"), 1, "the history follows the new key")
	require.Empty(t, b.eventsOf(t, id1, "pre.link"))
	byUser, byEmail := b.find(t, k, "userId="+u), b.find(t, k, "email="+e)
	require.Len(t, byUser, 1)
	require.Equal(t, byUser, byEmail)
}

func TestCollideMergeKeepsEverything(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	a, ea, eb := uniq("A"), uniq("a")+"@x.com", uniq("b")+"@x.com"
	idA := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": a, "email": ea, "properties": map[string]any{"plan": "pro"}}).json()["id"]
	idB := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"email": eb, "properties": map[string]any{"plan": "free", "onlyB": "keep"},
		"lists": map[string]any{"news": false}}).json()["id"].(string)
	require.Equal(t, http.StatusAccepted, b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "loser.event", "email": eb}).Code)
	require.Equal(t, http.StatusAccepted, b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "merge", "userId": a, "email": eb}).Code)

	found := b.find(t, k, "userId="+a)
	require.Len(t, found, 1)
	c := found[0].(map[string]any)
	require.Equal(t, idA, c["id"])
	require.Equal(t, ea, c["email"])
	require.Equal(t, map[string]any{"plan": "pro", "onlyB": "keep"}, c["properties"])
	require.Len(t, b.eventsOf(t, a, "loser.event"), 1)
	require.Empty(t, b.eventsOf(t, idB, "loser.event"))
	require.Empty(t, b.find(t, k, "email="+eb), "find ignores aliases")
	again := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"email": eb}).json()
	require.Equal(t, idA, again["id"], "the loser's email resolves to the survivor through its alias")
	require.Equal(t, false, again["created"])

	// The loser's list opt-out survives under the survivor's key.
	var cats map[string]bool
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT categories FROM email_preferences WHERE user_id = $1 AND email = $2`, a, eb).Scan(&cats))
	require.Equal(t, map[string]bool{"news": false}, cats)
}

func TestSoftDeleteThenRecreate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	e := uniq("e") + "@x.com"
	id := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"email": e}).json()["id"]
	res := b.do(t, http.MethodDelete, "/v1/contacts", k, map[string]any{"email": e})
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, map[string]any{"deleted": true}, res.json())
	require.Empty(t, b.find(t, k, "email="+e))
	res = b.do(t, http.MethodDelete, "/v1/contacts", k, map[string]any{"email": e})
	require.Equal(t, http.StatusNotFound, res.Code)
	require.Equal(t, map[string]any{"error": "Contact not found"}, res.json())
	again := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"email": e}).json()
	require.Equal(t, true, again["created"])
	require.NotEqual(t, id, again["id"])
}

func TestListsOnContactsAndEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	l := uniq("l") + "@x.com"
	res := b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"email": l, "lists": map[string]any{"product-updates": true}})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	id := res.json()["id"].(string)
	var cats map[string]bool
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT categories FROM email_preferences WHERE user_id = $1`, id).Scan(&cats))
	require.Equal(t, map[string]bool{"product-updates": true}, cats)

	res = b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": uniq("u"), "lists": map[string]any{"x": true}})
	require.Equal(t, http.StatusBadRequest, res.Code)
	require.Equal(t, "Contact has no email; cannot manage list membership", res.json()["error"])

	res = b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "l", "userId": uniq("u"), "lists": map[string]any{"x": true}})
	require.Equal(t, http.StatusAccepted, res.Code)
	require.Equal(t, true, res.json()["stored"])
	require.Equal(t, "Contact has no email; cannot manage list membership", res.json()["listsError"])
}

func TestContactChangesRecordOutboundIntents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	schematest.Subscribe(t, b.pool, "https://hooks.example/all", outbound.Catalog...)
	k := b.key(t, apikeys.Ingest)
	u, e := uniq("u"), uniq("e")+"@x.com"
	b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u, "email": e})
	b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u})                                         // no properties: no update event
	b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u, "properties": map[string]any{"a": 1}})   // updated
	b.do(t, http.MethodPut, "/v1/contacts", k, map[string]any{"userId": u, "lists": map[string]any{"news": false}}) // unsubscribed
	b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "contact.created", "userId": u})               // plain ingest emits nothing
	b.do(t, http.MethodDelete, "/v1/contacts", k, map[string]any{"userId": u})                                      // deleted
	rows, err := b.pool.Query(context.Background(), `SELECT payload FROM webhook_deliveries ORDER BY created_at`)
	require.NoError(t, err)
	var types []string
	for rows.Next() {
		var raw []byte
		require.NoError(t, rows.Scan(&raw))
		var env struct {
			ID   string         `json:"id"`
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(raw, &env))
		require.Regexp(t, `^msg_[0-9a-f-]{36}$`, env.ID)
		types = append(types, env.Type)
		if env.Type == "contact.unsubscribed" {
			require.Equal(t, map[string]any{"externalId": u, "email": e, "category": "news", "scope": "category"}, env.Data)
		}
	}
	require.Equal(t, []string{"contact.created", "contact.updated", "contact.unsubscribed", "contact.deleted"}, types)
}
