package hogsend

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker"
)

// Platform §18 17 end to end: a rule made over HTTP fires from the check-alerts workflow the
// worker's schedule starts, into a local sink, and its history shows over HTTP.
func TestAlertsFireFromTheScheduledCheck(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	e, logs := testEngine(t, testEnv(t, dsn, true))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := serve(t, e)
	runWorker(t, e)
	ctx := context.Background()

	var mu sync.Mutex
	var got []map[string]any
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		mu.Lock()
		got = append(got, body)
		mu.Unlock()
	}))
	t.Cleanup(sink.Close)
	code, out := requestJSON(t, http.MethodPost, base+"/v1/admin/alerts/rules", testAdminKey, map[string]any{"name": "Bounces",
		"type": "bounce_rate_exceeded", "threshold": map[string]any{"rate": 0.05}, "channel": "webhook",
		"channelConfig": map[string]any{"url": sink.URL}})
	require.Equal(t, http.StatusCreated, code, out)
	ruleID := out["rule"].(map[string]any)["id"].(string)
	_, err := e.pool.Exec(ctx, `INSERT INTO email_sends (from_email, to_email, subject, status)
		SELECT 'a@x.io', 'r' || g || '@x.io', 's', CASE WHEN g <= 2 THEN 'bounced' ELSE 'delivered' END::email_send_status
		FROM generate_series(1, 10) g`)
	require.NoError(t, err)

	h := e.temporal.ScheduleClient().GetHandle(ctx, worker.AlertsScheduleID(e.cfg.Temporal.TaskQueue))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	waitUntil(t, "the worker to create the alert schedule", func() bool { _, err := h.Describe(ctx); return err == nil })
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL}))
	waitUntil(t, "the alert to reach the sink", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
	require.Equal(t, map[string]any{"rule": "Bounces", "type": "bounce_rate_exceeded", "bounced": float64(2), "total": float64(10),
		"rate": 0.2, "threshold": 0.05}, got[0])

	waitUntil(t, "the history row", func() bool {
		_, hist := getJSON(t, base+"/v1/admin/alerts/history?ruleId="+ruleID, testAdminKey)
		return len(hist["history"].([]any)) == 1
	})
	_, hist := getJSON(t, base+"/v1/admin/alerts/history?ruleId="+ruleID, testAdminKey)
	entry := hist["history"].([]any)[0].(map[string]any)
	require.Equal(t, "sent", entry["deliveryStatus"])
	_, rules := getJSON(t, base+"/v1/admin/alerts/rules", testAdminKey)
	require.NotNil(t, rules["rules"].([]any)[0].(map[string]any)["lastFiredAt"])
}
