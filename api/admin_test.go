package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/apikeys"
)

func TestAdminEventsBrowse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	u := uniq("u")
	for i := range 7 {
		b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "browse", "userId": u,
			"timestamp": fmt.Sprintf("2025-01-0%dT00:00:00.000Z", i+1)})
	}
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodGet, "/v1/admin/events", "", nil).Code)
	body := b.do(t, http.MethodGet, "/v1/admin/events", legacyKey, nil).json()
	require.EqualValues(t, 50, body["limit"])
	require.EqualValues(t, 0, body["offset"])
	require.EqualValues(t, 7, body["total"])

	body = b.do(t, http.MethodGet, "/v1/admin/events?limit=5&userId="+u+"&event=browse", legacyKey, nil).json()
	events := body["events"].([]any)
	require.Len(t, events, 5)
	require.EqualValues(t, 5, body["limit"])
	first := events[0].(map[string]any)
	require.Equal(t, "2025-01-07T00:00:00.000Z", first["occurredAt"], "newest first")
	require.Equal(t, map[string]any{}, first["properties"])

	body = b.do(t, http.MethodGet, "/v1/admin/events?from=2025-01-02T00:00:00.000Z&to=2025-01-03T00:00:00.000Z", legacyKey, nil).json()
	require.EqualValues(t, 2, body["total"], "bounds are inclusive")
	body = b.do(t, http.MethodGet, "/v1/admin/events?event=nope", legacyKey, nil).json()
	require.Equal(t, []any{}, body["events"])
	require.EqualValues(t, 0, body["total"])

	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/admin/events/00000000-0000-0000-0000-000000000000", legacyKey, nil).Code)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodGet, "/v1/admin/events/abc", legacyKey, nil).Code)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodGet, "/v1/admin/events?limit=0", legacyKey, nil).Code)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodGet, "/v1/admin/events?from=yesterday", legacyKey, nil).Code)

	id := first["id"].(string)
	detail := b.do(t, http.MethodGet, "/v1/admin/events/"+id, legacyKey, nil).json()["event"].(map[string]any)
	require.Equal(t, u, detail["userId"])
}

func TestTimeline(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	u := uniq("u")
	require.Equal(t, http.StatusUnauthorized, b.do(t, http.MethodGet, "/v1/admin/contacts/x/timeline", "", nil).Code)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/admin/contacts/nonexistent-contact/timeline", legacyKey, nil).Code)
	b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "first", "userId": u, "timestamp": "2025-01-01T00:00:00.000Z"})
	b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "second", "userId": u, "eventProperties": map[string]any{"p": 1}})
	var stateID string
	require.NoError(t, b.pool.QueryRow(context.Background(), `INSERT INTO journey_states (user_id, user_email, journey_id, status)
		VALUES ($1, '', 'welcome', 'completed') RETURNING id::text`, u).Scan(&stateID))
	_, err := b.pool.Exec(context.Background(), `INSERT INTO email_sends (journey_state_id, user_id, template_key, from_email, to_email, subject, status)
		VALUES ($1, $2, 'welcome', 'f@x.com', 't@x.com', 'Hi', 'sent')`, stateID, u)
	require.NoError(t, err)

	body := b.do(t, http.MethodGet, "/v1/admin/contacts/"+u+"/timeline", legacyKey, nil).json()
	require.EqualValues(t, 4, body["total"])
	entries := body["timeline"].([]any)
	require.Len(t, entries, 4)
	var last time.Time
	for i, e := range entries {
		ts, err := time.Parse(time.RFC3339, e.(map[string]any)["timestamp"].(string))
		require.NoError(t, err)
		if i > 0 {
			require.False(t, ts.After(last), "newest first")
		}
		last = ts
	}
	require.Equal(t, "event", entries[3].(map[string]any)["type"], "the backdated event is oldest")

	body = b.do(t, http.MethodGet, "/v1/admin/contacts/"+u+"/timeline?type=event&limit=1&offset=1", legacyKey, nil).json()
	require.EqualValues(t, 2, body["total"])
	only := body["timeline"].([]any)
	require.Len(t, only, 1)
	require.Equal(t, "first", only[0].(map[string]any)["data"].(map[string]any)["event"])

	emails := b.do(t, http.MethodGet, "/v1/admin/contacts/"+u+"/timeline?type=email", legacyKey, nil).json()["timeline"].([]any)
	require.Len(t, emails, 1)
	require.Equal(t, "Hi", emails[0].(map[string]any)["data"].(map[string]any)["subject"])
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodGet, "/v1/admin/contacts/"+u+"/timeline?type=bogus", legacyKey, nil).Code)
}

func TestAdminContactsCRUD(t *testing.T) {
	t.Parallel()
	b := setup(t)
	x := uniq("X")
	res := b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"externalId": x, "properties": map[string]any{"keep": true}})
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	c := res.json()["contact"].(map[string]any)
	require.Contains(t, c, "anonymousId")
	require.Nil(t, c["anonymousId"])
	again := b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"externalId": x})
	require.Equal(t, http.StatusCreated, again.Code)
	require.Equal(t, c["id"], again.json()["contact"].(map[string]any)["id"])
	res = b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{})
	require.Equal(t, http.StatusBadRequest, res.Code)
	require.Contains(t, res.json()["error"], "Provide at least one of externalId or email")

	res = b.do(t, http.MethodPatch, "/v1/admin/contacts/"+x, legacyKey, map[string]any{"properties": map[string]any{"a": 1}, "email": "x@" + x + ".com"})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	patched := res.json()["contact"].(map[string]any)
	require.Equal(t, map[string]any{"keep": true, "a": float64(1)}, patched["properties"])
	require.Equal(t, strings.ToLower("x@"+x+".com"), patched["email"])

	got := b.do(t, http.MethodGet, "/v1/admin/contacts/"+c["id"].(string), legacyKey, nil)
	require.Equal(t, http.StatusOK, got.Code)
	require.Nil(t, got.json()["preferences"])

	list := b.do(t, http.MethodGet, "/v1/admin/contacts?search="+strings.ToLower(x[:3]), legacyKey, nil).json()
	require.EqualValues(t, 1, list["total"])

	require.Equal(t, http.StatusOK, b.do(t, http.MethodDelete, "/v1/admin/contacts/"+x, legacyKey, nil).Code)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/admin/contacts/"+x, legacyKey, nil).Code)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodPatch, "/v1/admin/contacts/"+x, legacyKey, map[string]any{}).Code)
}

func TestAdminPreferences(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := uniq("u")
	b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"externalId": u})
	res := b.do(t, http.MethodPut, "/v1/admin/contacts/"+u+"/preferences", legacyKey, map[string]any{"suppressed": true})
	require.Equal(t, http.StatusBadRequest, res.Code)
	require.Equal(t, "Contact has no email address", res.json()["error"])
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/admin/contacts/"+u+"/preferences", legacyKey, nil).Code)

	b.do(t, http.MethodPatch, "/v1/admin/contacts/"+u, legacyKey, map[string]any{"email": u + "@x.com"})
	res = b.do(t, http.MethodPut, "/v1/admin/contacts/"+u+"/preferences", legacyKey, map[string]any{"suppressed": true, "categories": map[string]any{"news": false}})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	p := res.json()["preferences"].(map[string]any)
	require.Equal(t, true, p["suppressed"])
	require.NotNil(t, p["suppressedAt"], "suppressing stamps the time, also on insert")
	require.Equal(t, map[string]any{"news": false}, p["categories"])

	res = b.do(t, http.MethodPut, "/v1/admin/contacts/"+u+"/preferences", legacyKey, map[string]any{"suppressed": false})
	p = res.json()["preferences"].(map[string]any)
	require.Equal(t, false, p["suppressed"])
	require.Nil(t, p["suppressedAt"])
	require.Equal(t, map[string]any{"news": false}, p["categories"], "unsupplied fields are kept")
	got := b.do(t, http.MethodGet, "/v1/admin/contacts/"+u, legacyKey, nil).json()
	require.Equal(t, u, got["preferences"].(map[string]any)["userId"])
}

func TestExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"externalId": "e1", "email": "e1@x.com", "properties": map[string]any{"a": 1, "b": "x"}})
	b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"email": "e2@x.com"})
	res := b.do(t, http.MethodGet, "/v1/admin/contacts/export?format=csv", legacyKey, nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, "text/csv", res.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="contacts.csv"`, res.Header().Get("Content-Disposition"))
	lines := strings.Split(res.Body.String(), "\n")
	require.Len(t, lines, 3, "no trailing newline")
	require.Equal(t, "externalId,email,properties,firstSeenAt,lastSeenAt", lines[0])
	require.True(t, strings.HasPrefix(lines[1], `"","e2@x.com","{}",`), "newest first: %s", lines[1])
	require.True(t, strings.HasPrefix(lines[2], `"e1","e1@x.com","{""a"":1,""b"":""x""}",`), lines[2])

	res = b.do(t, http.MethodGet, "/v1/admin/contacts/export", legacyKey, nil)
	contacts := res.json()["contacts"].([]any)
	require.Len(t, contacts, 2)
	require.NotContains(t, contacts[0], "updatedAt")
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodGet, "/v1/admin/contacts/export?limit=100001", legacyKey, nil).Code)
	require.Len(t, b.do(t, http.MethodGet, "/v1/admin/contacts/export?limit=1", legacyKey, nil).json()["contacts"], 1)

	// A cell a spreadsheet would run is neutralised, and a quote or newline stays inside its cell.
	b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"externalId": "=HYPERLINK(\"http://evil\")", "email": "f@x.com"})
	b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"externalId": "@SUM(1)\nnext", "email": "g@x.com"})
	body := b.do(t, http.MethodGet, "/v1/admin/contacts/export?format=csv&limit=2", legacyKey, nil).Body.String()
	require.Contains(t, body, "\n\"'@SUM(1)\nnext\",\"g@x.com\",")
	require.Contains(t, body, "\n\"'=HYPERLINK(\"\"http://evil\"\")\",\"f@x.com\",")
}

func TestReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	e := uniq("e") + "@x.com"
	b.do(t, http.MethodPost, "/v1/events", k, map[string]any{"name": "replay.me", "email": e, "eventProperties": map[string]any{"n": 1}})
	id := b.find(t, k, "email="+e)[0].(map[string]any)["id"].(string)
	ev := b.do(t, http.MethodGet, "/v1/admin/events?userId="+id, legacyKey, nil).json()["events"].([]any)[0].(map[string]any)

	res := b.do(t, http.MethodPost, "/v1/admin/events/replay", legacyKey, map[string]any{"eventIds": []string{ev["id"].(string)}})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	require.Equal(t, map[string]any{"replayed": float64(1), "errors": float64(0)}, res.json())
	after := b.do(t, http.MethodGet, "/v1/admin/events?userId="+id+"&event=replay.me", legacyKey, nil).json()
	require.EqualValues(t, 2, after["total"], "replayed onto the contact that owns the key, not a new contact")
	var contacts int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM contacts`).Scan(&contacts))
	require.Equal(t, 1, contacts)

	res = b.do(t, http.MethodPost, "/v1/admin/events/replay", legacyKey, map[string]any{"filter": map[string]any{"event": "replay.me"}, "limit": 1})
	require.Equal(t, float64(1), res.json()["replayed"])
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, "/v1/admin/events/replay", legacyKey, map[string]any{"limit": 1001}).Code)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, "/v1/admin/events/replay", legacyKey, map[string]any{"eventIds": []string{"x"}}).Code)
}

func TestDebugEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ja := b.key(t, apikeys.JourneyAdmin)
	res := b.do(t, http.MethodPost, "/v1/admin/events", ja, map[string]any{"event": "debug", "userId": uniq("u"), "properties": map[string]any{"x": 1}})
	require.Equal(t, http.StatusAccepted, res.Code, res.Body.String())
	require.Equal(t, true, res.json()["stored"])
	res = b.do(t, http.MethodPost, "/v1/admin/events", ja, map[string]any{"event": "debug"})
	require.Equal(t, http.StatusBadRequest, res.Code)
	require.Equal(t, "userId or userEmail is required", res.json()["error"])
}

func TestBatchEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	k := b.key(t, apikeys.Ingest)
	u := uniq("u")
	res := b.do(t, http.MethodPost, "/v1/events/batch", k, map[string]any{"events": []any{
		map[string]any{"name": "b1", "userId": u, "idempotencyKey": "bk-" + u},
		map[string]any{"name": "b2"},
		map[string]any{"name": "b3", "userId": u, "email": "nope"},
		"not an object",
		map[string]any{"name": "b1", "userId": u, "idempotencyKey": "bk-" + u},
		map[string]any{"name": "b4", "email": u + "@x.com", "contactProperties": map[string]any{"plan": "pro"}},
	}})
	require.Equal(t, http.StatusAccepted, res.Code, res.Body.String())
	body := res.json()
	results := body["results"].([]any)
	require.Len(t, results, 6)
	item := func(i int) map[string]any { return results[i].(map[string]any) }
	require.Equal(t, true, item(0)["stored"])
	require.Equal(t, "email or userId is required", item(1)["error"])
	require.Contains(t, item(2)["error"], "Invalid request: email")
	require.NotEmpty(t, item(3)["error"])
	require.Equal(t, false, item(4)["stored"], "a duplicate inside the same batch")
	require.Empty(t, item(4)["error"])
	require.Equal(t, true, item(5)["stored"])
	require.EqualValues(t, 2, body["stored"])
	require.EqualValues(t, 3, body["failed"])

	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, "/v1/events/batch", k, map[string]any{"events": []any{}}).Code)
	many := make([]any, 501)
	for i := range many {
		many[i] = map[string]any{"name": "x", "userId": "u"}
	}
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, "/v1/events/batch", k, map[string]any{"events": many}).Code)
}

func TestAdminPatchEmailOwnedByAnotherContactMerges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	x, e := uniq("X"), uniq("e")+"@x.com"
	b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"externalId": x})
	other := b.do(t, http.MethodPost, "/v1/admin/contacts", legacyKey, map[string]any{"email": e, "properties": map[string]any{"from": "other"}}).json()["contact"].(map[string]any)

	res := b.do(t, http.MethodPatch, "/v1/admin/contacts/"+other["id"].(string), legacyKey, map[string]any{"properties": map[string]any{"k": 1}})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())

	// Giving X the other contact's email merges them; X (identified) survives and is returned.
	res = b.do(t, http.MethodPatch, "/v1/admin/contacts/"+x, legacyKey, map[string]any{"email": e})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	merged := res.json()["contact"].(map[string]any)
	require.Equal(t, x, merged["externalId"])
	require.Equal(t, e, merged["email"])
	require.Equal(t, map[string]any{"from": "other", "k": float64(1)}, merged["properties"])
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodGet, "/v1/admin/contacts/"+other["id"].(string), legacyKey, nil).Code)
}
