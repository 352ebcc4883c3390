package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/apikeys"
)

// Platform §10.2 and §18 4 and 11: alert rules CRUD, its validation, and its audit rows.
func TestAlertRulesOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ops, err := b.keys.Create(context.Background(), apikeys.NewKey{Name: "ops", Scopes: []apikeys.Scope{apikeys.FullAdmin}})
	require.NoError(t, err)
	valid := map[string]any{"name": "Bounces", "type": "bounce_rate_exceeded", "threshold": map[string]any{"rate": 0.05},
		"channel": "webhook", "channelConfig": map[string]any{"url": "https://hooks.example.com/a"}}

	require.Equal(t, http.StatusForbidden, b.do(t, http.MethodPost, "/v1/admin/alerts/rules", b.key(t, apikeys.JourneyAdmin), valid).Code)
	res := b.do(t, http.MethodPost, "/v1/admin/alerts/rules", ops.Token, valid)
	require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
	rule := res.json()["rule"].(map[string]any)
	id := rule["id"].(string)
	require.Equal(t, map[string]any{"rate": 0.05}, rule["threshold"])
	require.Equal(t, true, rule["enabled"])
	require.Equal(t, float64(60), rule["cooldownMinutes"])
	require.Nil(t, rule["lastFiredAt"])

	// A bare number stands for the type's main key.
	for kind, key := range map[string]string{"bounce_rate_exceeded": "rate", "high_complaint_rate": "rate",
		"delivery_issue": "minDeliveryRate", "journey_failure_spike": "count"} {
		body := map[string]any{"name": kind, "type": kind, "threshold": 3, "channel": "slack", "channelConfig": map[string]any{"webhookUrl": "https://hooks.slack.com/x"}}
		res := b.do(t, http.MethodPost, "/v1/admin/alerts/rules", legacyKey, body)
		require.Equal(t, http.StatusCreated, res.Code, res.Body.String())
		require.Equal(t, map[string]any{key: float64(3)}, res.json()["rule"].(map[string]any)["threshold"])
	}
	for field, bad := range map[string]any{"name": "", "type": "nope", "threshold": map[string]any{"rate": "high"}, "channel": "pager",
		"channelConfig": map[string]any{"url": 1}, "cooldownMinutes": 0} {
		body := map[string]any{}
		for k, v := range valid {
			body[k] = v
		}
		body[field] = bad
		res := b.do(t, http.MethodPost, "/v1/admin/alerts/rules", legacyKey, body)
		require.Equal(t, http.StatusBadRequest, res.Code, field)
		require.Contains(t, res.json()["error"], field)
	}

	list := b.do(t, http.MethodGet, "/v1/admin/alerts/rules?limit=2", b.key(t, apikeys.Read), nil).json()
	require.Equal(t, float64(5), list["total"])
	require.Len(t, list["rules"], 2)

	res = b.do(t, http.MethodPatch, "/v1/admin/alerts/rules/"+id, ops.Token, map[string]any{"enabled": false, "threshold": 0.1, "cooldownMinutes": 5})
	require.Equal(t, http.StatusOK, res.Code, res.Body.String())
	patched := res.json()["rule"].(map[string]any)
	require.Equal(t, []any{false, map[string]any{"rate": 0.1}, float64(5), "Bounces"},
		[]any{patched["enabled"], patched["threshold"], patched["cooldownMinutes"], patched["name"]})
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodPatch, "/v1/admin/alerts/rules/"+id, ops.Token, map[string]any{"channel": "email"}).Code)
	missing := b.do(t, http.MethodPatch, "/v1/admin/alerts/rules/"+uuid.NewString(), ops.Token, map[string]any{"enabled": true})
	require.Equal(t, http.StatusNotFound, missing.Code)
	require.Equal(t, map[string]any{"error": "Alert rule not found"}, missing.json())

	hist := b.do(t, http.MethodGet, "/v1/admin/alerts/history?ruleId="+id, legacyKey, nil).json()
	require.Equal(t, []any{}, hist["history"])
	require.Equal(t, http.StatusBadRequest, b.do(t, http.MethodGet, "/v1/admin/alerts/history?ruleId=x", legacyKey, nil).Code)

	require.Equal(t, map[string]any{"deleted": true}, b.do(t, http.MethodDelete, "/v1/admin/alerts/rules/"+id, ops.Token, nil).json())
	require.Equal(t, http.StatusNotFound, b.do(t, http.MethodDelete, "/v1/admin/alerts/rules/"+id, ops.Token, nil).Code)

	// Audit: the create, the patch and the delete by ops (ids lost below "rules", as in the
	// reference), none for the refused, failed or read requests.
	logs := b.do(t, http.MethodGet, "/v1/admin/audit-logs?resource=alerts&actor=ops", legacyKey, nil).json()["logs"].([]any)
	require.Len(t, logs, 3)
	for i, action := range []string{"alerts.delete", "alerts.patch", "alerts.post"} {
		l := logs[i].(map[string]any)
		require.Equal(t, []any{action, "rules", ops.ID}, []any{l["action"], l["resourceId"], l["actorKeyId"]})
	}
	legacy := b.do(t, http.MethodGet, "/v1/admin/audit-logs?actor=legacy", legacyKey, nil).json()
	require.Equal(t, float64(4), legacy["total"], "the four bare-number creates")
	require.Nil(t, legacy["logs"].([]any)[0].(map[string]any)["actorKeyId"])
}
