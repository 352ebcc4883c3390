package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/apikeys"
)

// Platform §9 and §18 11: successful admin mutations are audited with the reference's
// resource/action derivation; failures and reads are not.
func TestAdminMutationsAreAudited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	auditor, err := b.keys.Create(ctx, apikeys.NewKey{Name: "auditor", Scopes: []apikeys.Scope{apikeys.FullAdmin}})
	require.NoError(t, err)
	logs := func(query string) []any {
		t.Helper()
		res := b.do(t, http.MethodGet, "/v1/admin/audit-logs?"+query, legacyKey, nil)
		require.Equal(t, http.StatusOK, res.Code, res.Body.String())
		return res.json()["logs"].([]any)
	}
	before := time.Now().Add(-time.Second)

	created := b.do(t, http.MethodPost, "/v1/admin/api-keys", auditor.Token, map[string]any{"name": "made"}, "X-Forwarded-For", "203.0.113.9, 10.0.0.1")
	require.Equal(t, http.StatusCreated, created.Code)
	madeID := created.json()["id"].(string)
	require.Equal(t, http.StatusCreated, b.do(t, http.MethodPost, "/v1/admin/api-keys/"+madeID+"/rotate", legacyKey, nil, "X-Real-IP", "198.51.100.4").Code)
	// Not audited: a read, a 404, a validation 400, a 403.
	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/v1/admin/api-keys", auditor.Token, nil).Code)
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodDelete, "/v1/admin/api-keys/"+uuid.NewString(), legacyKey, nil).Code)
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPost, "/v1/admin/api-keys", legacyKey, map[string]any{}).Code)
	require.Equal(t, http.StatusForbidden, b.do(t, http.MethodPost, "/v1/admin/api-keys", b.key(t, apikeys.Read), map[string]any{"name": "x"}).Code)
	// Data-plane writes are never audited.
	require.Equal(t, http.StatusOK, b.do(t, http.MethodPut, "/v1/contacts", legacyKey, map[string]any{"userId": "a1"}).Code)

	all := logs("")
	require.Len(t, all, 2, "two successful mutations")
	rotate, create := all[0].(map[string]any), all[1].(map[string]any)
	require.Equal(t, "api-keys.post", create["action"])
	require.Equal(t, "api-keys", create["resource"])
	require.Nil(t, create["resourceId"])
	require.Equal(t, "auditor", create["actor"])
	require.Equal(t, auditor.ID, create["actorKeyId"])
	require.Equal(t, "203.0.113.9, 10.0.0.1", create["ipAddress"], "the raw header")
	require.Equal(t, "/v1/admin/api-keys", create["detail"].(map[string]any)["path"])
	require.Equal(t, float64(http.StatusCreated), create["detail"].(map[string]any)["status"])

	require.Equal(t, "api-keys.post", rotate["action"])
	require.Equal(t, madeID, rotate["resourceId"], "the second segment; the nested action is lost, as in the reference")
	require.Equal(t, "legacy", rotate["actor"])
	require.Nil(t, rotate["actorKeyId"])
	require.Equal(t, "198.51.100.4", rotate["ipAddress"])

	// Filters are exact matches; from/to are inclusive bounds.
	require.Len(t, logs("actor=auditor"), 1)
	require.Len(t, logs("actor=audit"), 0)
	require.Len(t, logs("resource=api-keys&action=api-keys.post"), 2)
	require.Len(t, logs("resource=contacts"), 0)
	require.Len(t, logs("from="+url.QueryEscape(before.Format(time.RFC3339Nano))), 2)
	require.Len(t, logs("to="+url.QueryEscape(before.Format(time.RFC3339Nano))), 0)
	page := b.do(t, http.MethodGet, "/v1/admin/audit-logs?limit=1&offset=1", legacyKey, nil).json()
	require.Equal(t, float64(2), page["total"])
	require.Equal(t, create["id"], page["logs"].([]any)[0].(map[string]any)["id"])
	bad := b.do(t, http.MethodGet, "/v1/admin/audit-logs?from=yesterday", legacyKey, nil)
	require.Equal(t, http.StatusBadRequest, bad.Code)
	require.Contains(t, bad.json()["error"], "from")
}
