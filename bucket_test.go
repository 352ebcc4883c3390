package hogsend

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/activities"
	"github.com/hogsend/hogsend/example/buckets"
	"github.com/hogsend/hogsend/example/journeys"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker"
)

// startBucketEngine runs API and worker with the example app's journeys and buckets.
func startBucketEngine(t *testing.T) *journeyEnv {
	t.Helper()
	_, dsn := schematest.TestDB(t)
	return startBucketEngineOn(t, dsn)
}

// startBucketEngineOn is startBucketEngine on an existing database.
func startBucketEngineOn(t *testing.T, dsn string) *journeyEnv {
	t.Helper()
	sent := &activities.RecordingSender{}
	e, logs := testEngineWith(t, testEnv(t, dsn, true), &Options{Journeys: journeys.All(), Buckets: buckets.All(), JourneySender: sent})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := serve(t, e)
	runWorker(t, e)
	return &journeyEnv{base: base, engine: e, sent: sent}
}

// members lists user's rows of a bucket with status over the admin route.
func (j *journeyEnv) members(t *testing.T, bucketID, user, status string) []map[string]any {
	t.Helper()
	code, out := getJSON(t, j.base+"/v1/admin/buckets/"+bucketID+"/members?status="+status+"&userId="+url.QueryEscape(user), testAdminKey)
	require.Equal(t, http.StatusOK, code, out)
	var list []map[string]any
	for _, m := range out["members"].([]any) {
		list = append(list, m.(map[string]any))
	}
	return list
}

func TestBucketsOverHTTP(t *testing.T) {
	t.Parallel()
	j := startBucketEngine(t)
	update := func(user string, props map[string]any) {
		t.Helper()
		code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "user.updated", "userId": user, "contactProperties": props})
		require.Equal(t, http.StatusAccepted, code, out)
	}

	// 1. A property join is readable as soon as the 202 is: it committed with the event.
	update("hb-1", map[string]any{"plan": "pro"})
	active := j.members(t, "t-pro", "hb-1", "active")
	require.Len(t, active, 1)
	require.EqualValues(t, 1, active[0]["entryCount"])
	require.Equal(t, "event", active[0]["source"])
	require.Equal(t, 1, j.eventCount(t, "hb-1", "bucket:entered:t-pro"))
	// The bound journey started on the transition event.
	run := j.waitState(t, "test-pro-welcome", "hb-1", "waiting")

	// 4. Leaving exits the bound journey.
	update("hb-1", map[string]any{"plan": "free"})
	require.Len(t, j.members(t, "t-pro", "hb-1", "left"), 1)
	require.Empty(t, j.members(t, "t-pro", "hb-1", "active"))
	require.Equal(t, 1, j.eventCount(t, "hb-1", "bucket:left:t-pro"))
	exited := j.waitState(t, "test-pro-welcome", "hb-1", "exited")
	require.Equal(t, run["id"], exited["id"])
	require.Equal(t, 0, j.eventCount(t, "hb-1", "test.pro_welcomed"))

	// Metrics: size, joins and leaves, and the trend.
	code, metrics := getJSON(t, j.base+"/v1/admin/metrics/buckets", testAdminKey)
	require.Equal(t, http.StatusOK, code, metrics)
	var proStats map[string]any
	for _, m := range metrics["buckets"].([]any) {
		if m := m.(map[string]any); m["bucketId"] == "t-pro" {
			proStats = m
		}
	}
	require.Equal(t, []any{float64(0), float64(1), float64(1)}, []any{proStats["size"], proStats["entered"], proStats["left"]})
	require.NotNil(t, proStats["avgDwellSecs"])
	code, trend := getJSON(t, j.base+"/v1/admin/metrics/buckets/t-pro?period=day", testAdminKey)
	require.Equal(t, http.StatusOK, code, trend)
	point := trend["points"].([]any)[0].(map[string]any)
	require.Equal(t, []any{float64(1), float64(1)}, []any{point["entered"], point["left"]})
	code, _ = getJSON(t, j.base+"/v1/admin/metrics/buckets/nope", testAdminKey)
	require.Equal(t, http.StatusNotFound, code)

	// 15. Admin list and detail.
	code, list := getJSON(t, j.base+"/v1/admin/buckets?limit=100", testAdminKey)
	require.Equal(t, http.StatusOK, code, list)
	require.EqualValues(t, len(buckets.All()), list["total"])
	var pro map[string]any
	for _, b := range list["buckets"].([]any) {
		if b := b.(map[string]any); b["id"] == "t-pro" {
			pro = b
		}
	}
	require.Equal(t, "dynamic", pro["kind"])
	require.Equal(t, "unlimited", pro["entryLimit"])
	require.Equal(t, false, pro["timeBased"])
	require.Equal(t, map[string]any{"active": float64(0), "left": float64(1)}, pro["counts"])
	code, detail := getJSON(t, j.base+"/v1/admin/buckets/t-dormant", testAdminKey)
	require.Equal(t, http.StatusOK, code, detail)
	criteria := detail["bucket"].(map[string]any)["criteria"].(map[string]any)
	require.Equal(t, map[string]any{"hours": float64(168)}, criteria["conditions"].([]any)[1].(map[string]any)["within"])
	code, detail = getJSON(t, j.base+"/v1/admin/buckets/went-dormant", testAdminKey)
	require.Equal(t, http.StatusOK, code, detail)
	feeds := detail["bucket"].(map[string]any)["feedsJourneys"].([]any)
	require.Equal(t, "bucket-went-dormant-on-enter", feeds[0].(map[string]any)["id"])
	require.Equal(t, true, feeds[0].(map[string]any)["owned"])
	require.Equal(t, map[string]any{"hours": float64(1440)}, detail["bucket"].(map[string]any)["entryPeriod"])
	code, detail = getJSON(t, j.base+"/v1/admin/buckets/t-pro", testAdminKey)
	require.Equal(t, http.StatusOK, code, detail)
	feed := detail["bucket"].(map[string]any)["feedsJourneys"].([]any)[0].(map[string]any)
	require.Equal(t, map[string]any{"id": "test-pro-welcome", "name": "Test — Pro welcome", "trigger": "bucket:entered:t-pro",
		"sourceBucketId": nil, "owned": false}, feed)

	// 16. The admin switch: a disabled bucket neither joins nor emits.
	code, patched := requestJSON(t, http.MethodPatch, j.base+"/v1/admin/buckets/t-signed-up", testAdminKey, map[string]any{"enabled": false})
	require.Equal(t, http.StatusOK, code, patched)
	require.Equal(t, false, patched["bucket"].(map[string]any)["enabled"])
	code, list = getJSON(t, j.base+"/v1/admin/buckets?enabled=false", testAdminKey)
	require.Equal(t, http.StatusOK, code)
	require.Len(t, list["buckets"], 1)
	code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "signup", "userId": "hb-2"})
	require.Equal(t, http.StatusAccepted, code, out)
	require.Empty(t, j.members(t, "t-signed-up", "hb-2", "active"))
	code, missing := requestJSON(t, http.MethodPatch, j.base+"/v1/admin/buckets/nope", testAdminKey, map[string]any{"enabled": true})
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "Bucket not found", missing["error"])
	code, _ = requestJSON(t, http.MethodPatch, j.base+"/v1/admin/buckets/t-pro", testAdminKey, map[string]any{})
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = requestJSON(t, http.MethodPatch, j.base+"/v1/admin/buckets/t-pro", "", map[string]any{"enabled": true})
	require.Equal(t, http.StatusUnauthorized, code)

	// 17. Members: filters and bounds.
	code, _ = getJSON(t, j.base+"/v1/admin/buckets/t-pro/members?limit=101", testAdminKey)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = getJSON(t, j.base+"/v1/admin/buckets/t-pro/members?status=gone", testAdminKey)
	require.Equal(t, http.StatusBadRequest, code)
	code, _ = getJSON(t, j.base+"/v1/admin/buckets/nope/members", testAdminKey)
	require.Equal(t, http.StatusNotFound, code)
}

func TestTheReconcileScheduleLeavesOnTheClock(t *testing.T) {
	t.Parallel()
	j := startBucketEngine(t)
	ctx := context.Background()
	// 11. A window member; the sweep, run through its schedule, leaves it once the window passed.
	code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "ping", "userId": "rs-1"})
	require.Equal(t, http.StatusAccepted, code, out)
	require.Len(t, j.members(t, "t-window", "rs-1", "active"), 1)

	h := j.engine.temporal.ScheduleClient().GetHandle(ctx, worker.ReconcileScheduleID(j.engine.cfg.Temporal.TaskQueue))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	waitUntil(t, "the worker to create the reconcile schedule", func() bool { _, err := h.Describe(ctx); return err == nil })
	desc, err := h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, desc.Schedule.Policy.Overlap)
	require.NotEmpty(t, desc.Schedule.Spec.Calendars, "BUCKET_RECONCILE_CRON (the server keeps it as calendars)")
	waitUntil(t, "a sweep to leave the member", func() bool {
		_ = h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE})
		return len(j.members(t, "t-window", "rs-1", "left")) == 1
	})
	waitUntil(t, "the leave to be announced", func() bool { return j.eventCount(t, "rs-1", "bucket:left:t-window") == 1 })
	code, events := getJSON(t, j.base+"/v1/admin/events?userId=rs-1&event=bucket:left:t-window", testAdminKey)
	require.Equal(t, http.StatusOK, code, events)
	props := events["events"].([]any)[0].(map[string]any)["properties"].(map[string]any)
	require.Equal(t, "reconcile", props["source"])
	require.Equal(t, "criteria", props["reason"])
}

func TestAFirstBootBackfillsBucketsSilentlyOnce(t *testing.T) {
	t.Parallel()
	pool, dsn := schematest.TestDB(t)
	ctx := context.Background()
	// 19. Contacts from before the buckets existed.
	_, err := pool.Exec(ctx, `INSERT INTO contacts (external_id, properties) VALUES ('pre-1', '{"plan":"pro"}'), ('pre-2', '{"plan":"free"}')`)
	require.NoError(t, err)
	j := startBucketEngineOn(t, dsn)
	waitUntil(t, "the backfill to add the matching contact", func() bool { return len(j.members(t, "t-pro", "pre-1", "active")) == 1 })
	require.Equal(t, "backfill", j.members(t, "t-pro", "pre-1", "active")[0]["source"])
	require.Empty(t, j.members(t, "t-pro", "pre-2", "active"))
	require.Equal(t, 0, j.eventCount(t, "pre-1", "bucket:entered:t-pro"), "a backfill announces nobody")
	waitUntil(t, "every bucket's backfill to complete", func() bool {
		var open int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM import_jobs WHERE format = 'bucket-backfill' AND status <> 'completed'`).Scan(&open))
		return open == 0
	})
	var hashed, jobs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM bucket_configs WHERE criteria_hash IS NOT NULL`).Scan(&hashed))
	require.Equal(t, len(buckets.All()), hashed)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM import_jobs`).Scan(&jobs))

	// Another worker booting finds nothing to do.
	stop := runWorker(t, j.engine)
	stop()
	var after int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM import_jobs`).Scan(&after))
	require.Equal(t, jobs, after)
}

func TestBucketTransitionsReachOutboundEndpoints(t *testing.T) {
	t.Parallel()
	j := startBucketEngine(t)
	ctx := context.Background()
	// 18. An endpoint subscribed to bucket.entered / bucket.left gets one payload each.
	_, err := j.engine.pool.Exec(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
		VALUES ('https://hooks.example.com/b', 'whsec_b', 'whsec_b', '["bucket.entered","bucket.left"]')`)
	require.NoError(t, err)
	for _, plan := range []string{"pro", "free"} {
		code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "user.updated", "userId": "ob-1", "contactProperties": map[string]any{"plan": plan}})
		require.Equal(t, http.StatusAccepted, code, out)
	}
	payloads := map[string]map[string]any{}
	waitUntil(t, "both deliveries", func() bool {
		rows, err := j.engine.pool.Query(ctx, `SELECT event_type, payload FROM webhook_deliveries WHERE payload->'data'->>'bucketId' = 't-pro'`)
		require.NoError(t, err)
		defer rows.Close()
		payloads = map[string]map[string]any{}
		for rows.Next() {
			var kind string
			var p map[string]any
			require.NoError(t, rows.Scan(&kind, &p))
			payloads[kind] = p["data"].(map[string]any)
		}
		return len(payloads) == 2
	})
	require.Equal(t, map[string]any{"bucketId": "t-pro", "bucketName": "Test — Pro", "userId": "ob-1", "userEmail": nil,
		"transition": "entered", "entryCount": float64(1), "source": "event"}, payloads["bucket.entered"])
	require.Equal(t, "criteria", payloads["bucket.left"]["reason"])
	require.Equal(t, "left", payloads["bucket.left"]["transition"])
}

func TestBucketMembershipRulesOverHTTP(t *testing.T) {
	t.Parallel()
	j := startBucketEngine(t)
	send := func(body map[string]any) {
		t.Helper()
		code, out := postJSON(t, j.base+"/v1/events", body)
		require.Equal(t, http.StatusAccepted, code, out)
	}
	plan := func(user, p string) {
		t.Helper()
		send(map[string]any{"name": "user.updated", "userId": user, "contactProperties": map[string]any{"plan": p}})
	}
	// 2. A repeat changes nothing; 3. the contact's state beats the event's payload.
	plan("hr-1", "pro")
	plan("hr-1", "pro")
	send(map[string]any{"name": "page.viewed", "userId": "hr-1", "eventProperties": map[string]any{"plan": "free"}})
	require.Len(t, j.members(t, "t-pro", "hr-1", "active"), 1)
	require.Equal(t, 1, j.eventCount(t, "hr-1", "bucket:entered:t-pro"))
	// 5. Three memberships, epochs 1, 2, 3; 6. once: the rejoin is silent.
	plan("hr-1", "free")
	for range 2 {
		plan("hr-1", "pro")
		plan("hr-1", "free")
	}
	var epochs []any
	for _, m := range j.members(t, "t-pro", "hr-1", "left") {
		epochs = append(epochs, m["entryCount"])
	}
	require.ElementsMatch(t, []any{float64(1), float64(2), float64(3)}, epochs)
	require.Equal(t, 3, j.eventCount(t, "hr-1", "bucket:entered:t-pro"))
	require.Equal(t, 1, j.eventCount(t, "hr-1", "bucket:entered:t-once"), "t-once announces the first join only")
	// 8. An event bucket; an unrelated event makes no row.
	send(map[string]any{"name": "signup", "userId": "hr-2"})
	require.Len(t, j.members(t, "t-signed-up", "hr-2", "active"), 1)
	send(map[string]any{"name": "page.viewed", "userId": "hr-3"})
	require.Empty(t, j.members(t, "t-signed-up", "hr-3", "active"))
}

func TestBackdatedDormancyAndDwellOverHTTP(t *testing.T) {
	t.Parallel()
	j := startBucketEngine(t)
	ctx := context.Background()
	// 9. A backdated activity makes the contact dormant at once; activity now ends it.
	back := time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "app.active", "userId": "hd-1", "timestamp": back})
	require.Equal(t, http.StatusAccepted, code, out)
	require.Len(t, j.members(t, "t-dormant", "hd-1", "active"), 1)
	code, out = postJSON(t, j.base+"/v1/events", map[string]any{"name": "app.active", "userId": "hd-1"})
	require.Equal(t, http.StatusAccepted, code, out)
	require.Len(t, j.members(t, "t-dormant", "hd-1", "left"), 1)

	// 14. Two seconds into a t-dwell membership the sweep fires one dwell event, and no second.
	code, out = postJSON(t, j.base+"/v1/events", map[string]any{"name": "user.updated", "userId": "hd-2", "contactProperties": map[string]any{"plan": "x"}})
	require.Equal(t, http.StatusAccepted, code, out)
	h := j.engine.temporal.ScheduleClient().GetHandle(ctx, worker.ReconcileScheduleID(j.engine.cfg.Temporal.TaskQueue))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	waitUntil(t, "the worker to create the reconcile schedule", func() bool { _, err := h.Describe(ctx); return err == nil })
	waitUntil(t, "a sweep to fire the dwell", func() bool {
		_ = h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE})
		return j.eventCount(t, "hd-2", "bucket:dwell:t-dwell:after-2000") == 1
	})
	// The reaction journey ran on it.
	waitUntil(t, "the dwell reaction", func() bool { return j.eventCount(t, "hd-2", "test.dwelled") == 1 })
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE}))
	waitUntil(t, "that sweep to finish", func() bool {
		desc, err := h.Describe(ctx)
		return err == nil && len(desc.Info.RunningWorkflows) == 0 && len(desc.Info.RecentActions) >= 2
	})
	require.Equal(t, 1, j.eventCount(t, "hd-2", "bucket:dwell:t-dwell:after-2000"), "after fires once per membership")
}
