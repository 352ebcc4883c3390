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
	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/example/buckets"
	"github.com/hogsend/hogsend/example/journeys"
	"github.com/hogsend/hogsend/internal/store"
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
	return startEngineWithBuckets(t, dsn, buckets.All()...)
}

// startEngineWithBuckets runs API and worker with the example app's journeys and bs.
func startEngineWithBuckets(t *testing.T, dsn string, bs ...*bucket.Bucket) *journeyEnv {
	t.Helper()
	sent := &activities.RecordingSender{}
	e, logs := testEngineWith(t, testEnv(t, dsn, true), &Options{Journeys: journeys.All(), Buckets: bs, JourneySender: sent})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := serve(t, e)
	return &journeyEnv{base: base, engine: e, sent: sent, stopWorker: runWorker(t, e)}
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

// sweepUntil triggers the reconcile schedule until cond holds: the spec's "trigger the sweep",
// against the schedule the worker created. It returns the schedule's handle.
func (j *journeyEnv) sweepUntil(t *testing.T, what string, cond func() bool) client.ScheduleHandle {
	t.Helper()
	ctx := context.Background()
	h := j.engine.temporal.ScheduleClient().GetHandle(ctx, worker.ReconcileScheduleID(j.engine.cfg.Temporal.TaskQueue))
	waitUntil(t, "the worker to create the reconcile schedule", func() bool { _, err := h.Describe(ctx); return err == nil })
	waitUntil(t, what, func() bool {
		_ = h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE})
		return cond()
	})
	return h
}

// eventProps are the properties of user's latest event of a name.
func (j *journeyEnv) eventProps(t *testing.T, user, name string) map[string]any {
	t.Helper()
	code, out := getJSON(t, j.base+"/v1/admin/events?userId="+url.QueryEscape(user)+"&event="+url.QueryEscape(name), testAdminKey)
	require.Equal(t, http.StatusOK, code, out)
	events := out["events"].([]any)
	require.NotEmpty(t, events, "no %s event of %s", name, user)
	return events[0].(map[string]any)["properties"].(map[string]any)
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
	// A deleted contact's membership is no sweep's business (§15): the same pass leaves it be.
	for _, user := range []string{"rs-1", "rs-gone"} {
		code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "ping", "userId": user})
		require.Equal(t, http.StatusAccepted, code, out)
		require.Len(t, j.members(t, "t-window", user, "active"), 1)
	}
	code, out := requestJSON(t, http.MethodDelete, j.base+"/v1/contacts", testAdminKey, map[string]any{"userId": "rs-gone"})
	require.Equal(t, http.StatusOK, code, out)

	h := j.sweepUntil(t, "a sweep to leave the member", func() bool { return len(j.members(t, "t-window", "rs-1", "left")) == 1 })
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	desc, err := h.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE, desc.Schedule.Policy.Overlap)
	require.NotEmpty(t, desc.Schedule.Spec.Calendars, "BUCKET_RECONCILE_CRON (the server keeps it as calendars)")
	waitUntil(t, "the leave to be announced", func() bool { return j.eventCount(t, "rs-1", "bucket:left:t-window") == 1 })
	props := j.eventProps(t, "rs-1", "bucket:left:t-window")
	require.Equal(t, "reconcile", props["source"])
	require.Equal(t, "criteria", props["reason"])
	require.Len(t, j.members(t, "t-window", "rs-gone", "active"), 1, "still listed by admin, untouched by the sweep")
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
	h := j.sweepUntil(t, "a sweep to fire the dwell", func() bool { return j.eventCount(t, "hd-2", "bucket:dwell:t-dwell:after-2000") == 1 })
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	require.EqualValues(t, 1, j.eventProps(t, "hd-2", "bucket:dwell:t-dwell:after-2000")["dwellCount"])
	// The reaction journey ran on it.
	waitUntil(t, "the dwell reaction", func() bool { return j.eventCount(t, "hd-2", "test.dwelled") == 1 })
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE}))
	waitUntil(t, "that sweep to finish", func() bool {
		desc, err := h.Describe(ctx)
		return err == nil && len(desc.Info.RunningWorkflows) == 0 && len(desc.Info.RecentActions) >= 2
	})
	require.Equal(t, 1, j.eventCount(t, "hd-2", "bucket:dwell:t-dwell:after-2000"), "after fires once per membership")
}

func TestTheClockOverHTTP(t *testing.T) {
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
	// Every scenario's first half, then one clock for all of them.
	// 7. once_per_period: a rejoin within the 5 s period writes its row and announces nothing.
	plan("hc-period", "pro")
	plan("hc-period", "free")
	plan("hc-period", "pro")
	require.EqualValues(t, 2, j.members(t, "t-period", "hc-period", "active")[0]["entryCount"])
	require.Equal(t, 1, j.eventCount(t, "hc-period", "bucket:entered:t-period"))
	plan("hc-period", "free")
	leftAt, err := time.Parse(time.RFC3339Nano, j.members(t, "t-period", "hc-period", "left")[0]["leftAt"].(string))
	require.NoError(t, err)
	// 10. Three key.action join t-power on the third, in real time; the same three a minute old do not.
	for i := range 3 {
		require.Empty(t, j.members(t, "t-power", "hc-power", "active"), "joined after %d", i)
		send(map[string]any{"name": "key.action", "userId": "hc-power"})
	}
	require.Len(t, j.members(t, "t-power", "hc-power", "active"), 1)
	minuteAgo := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for range 3 {
		send(map[string]any{"name": "key.action", "userId": "hc-stale", "timestamp": minuteAgo})
	}
	require.Empty(t, j.members(t, "t-power", "hc-stale", "active"))
	// 12. A beat now is no lapse; a contact that never beat never lapses.
	send(map[string]any{"name": "beat", "userId": "hc-beat"})
	send(map[string]any{"name": "page.viewed", "userId": "hc-never"})
	require.Empty(t, j.members(t, "t-lapsed", "hc-beat", "active"))
	// 13. A t-ttl member (max dwell 2 s).
	send(map[string]any{"name": "user.updated", "userId": "hc-ttl", "contactProperties": map[string]any{"tier": "vip"}})
	require.Len(t, j.members(t, "t-ttl", "hc-ttl", "active"), 1)

	h := j.sweepUntil(t, "the sweep to leave the power user, lapse the beat and expire the vip", func() bool {
		return len(j.members(t, "t-power", "hc-power", "left")) == 1 && len(j.members(t, "t-lapsed", "hc-beat", "active")) == 1 &&
			len(j.members(t, "t-ttl", "hc-ttl", "left")) == 1
	})
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	waitUntil(t, "the sweep's transitions to be announced", func() bool {
		return j.eventCount(t, "hc-power", "bucket:left:t-power") == 1 && j.eventCount(t, "hc-beat", "bucket:entered:t-lapsed") == 1 &&
			j.eventCount(t, "hc-ttl", "bucket:left:t-ttl") == 1
	})
	// 10.
	props := j.eventProps(t, "hc-power", "bucket:left:t-power")
	require.Equal(t, []any{"criteria", "reconcile"}, []any{props["reason"], props["source"]})
	require.Empty(t, j.members(t, "t-power", "hc-stale", "active"))
	// 12.
	require.Equal(t, "reconcile", j.members(t, "t-lapsed", "hc-beat", "active")[0]["source"])
	require.Equal(t, "reconcile", j.eventProps(t, "hc-beat", "bucket:entered:t-lapsed")["source"])
	require.Empty(t, j.members(t, "t-lapsed", "hc-never", "active"))
	// 13. Left for its max dwell; qualifying again writes a row, and once means no second entered.
	require.Equal(t, "maxDwell", j.eventProps(t, "hc-ttl", "bucket:left:t-ttl")["reason"])
	send(map[string]any{"name": "user.updated", "userId": "hc-ttl", "contactProperties": map[string]any{"tier": "vip"}})
	require.EqualValues(t, 2, j.members(t, "t-ttl", "hc-ttl", "active")[0]["entryCount"])
	require.Equal(t, 1, j.eventCount(t, "hc-ttl", "bucket:entered:t-ttl"))
	// 7. Past the period since the leave, a rejoin is announced again (the wait is the clock's own).
	time.Sleep(time.Until(leftAt.Add(5*time.Second + 50*time.Millisecond)))
	plan("hc-period", "pro")
	require.Equal(t, 2, j.eventCount(t, "hc-period", "bucket:entered:t-period"))
}

func TestACriteriaChangeReevaluatesMembersOnRedeploy(t *testing.T) {
	t.Parallel()
	pool, dsn := schematest.TestDB(t)
	ctx := context.Background()
	define := func(criteria condition.Condition) *bucket.Bucket {
		return bucket.MustDefine(bucket.Meta{ID: "t-change", Name: "Test — Changing", Enabled: true, Criteria: criteria})
	}
	backfilled := func(j *journeyEnv) {
		t.Helper()
		waitUntil(t, "the bucket's backfill to complete", func() bool {
			done, err := store.BackfillDone(ctx, pool, "t-change")
			require.NoError(t, err)
			return done
		})
	}
	// Deploy 1: paying means pro.
	v1 := startEngineWithBuckets(t, dsn, define(condition.Prop("plan").Eq("pro")))
	backfilled(v1)
	for user, props := range map[string]map[string]any{
		"cc-stays": {"plan": "pro", "region": "eu"}, "cc-goes": {"plan": "pro", "region": "us"}, "cc-comes": {"plan": "team", "region": "eu"},
	} {
		code, out := postJSON(t, v1.base+"/v1/events", map[string]any{"name": "user.updated", "userId": user, "contactProperties": props})
		require.Equal(t, http.StatusAccepted, code, out)
	}
	require.Len(t, v1.members(t, "t-change", "cc-goes", "active"), 1)
	v1.stopWorker()

	// 20. Deploy 2: pro or team, in the EU only. Its worker re-evaluates the members at boot.
	v2 := startEngineWithBuckets(t, dsn, define(condition.All(condition.Any(condition.Prop("plan").Eq("pro"), condition.Prop("plan").Eq("team")), condition.Prop("region").Eq("eu"))))
	waitUntil(t, "the re-evaluation to leave the member that no longer matches", func() bool {
		return len(v2.members(t, "t-change", "cc-goes", "left")) == 1
	})
	backfilled(v2)
	waitUntil(t, "the leave to be announced", func() bool { return v2.eventCount(t, "cc-goes", "bucket:left:t-change") == 1 })
	require.Equal(t, "backfill", v2.eventProps(t, "cc-goes", "bucket:left:t-change")["source"])
	comes := v2.members(t, "t-change", "cc-comes", "active")
	require.Len(t, comes, 1)
	require.Equal(t, "backfill", comes[0]["source"])
	require.Equal(t, 0, v2.eventCount(t, "cc-comes", "bucket:entered:t-change"), "a backfill join is silent")
	stays := v2.members(t, "t-change", "cc-stays", "active")
	require.Len(t, stays, 1)
	require.EqualValues(t, 1, stays[0]["entryCount"])
	require.Equal(t, 1, v2.eventCount(t, "cc-stays", "bucket:entered:t-change"))
}

func TestIdentityChangesCarryMembershipsOverHTTP(t *testing.T) {
	t.Parallel()
	j := startBucketEngine(t)
	send := func(body map[string]any) {
		t.Helper()
		code, out := postJSON(t, j.base+"/v1/events", body)
		require.Equal(t, http.StatusAccepted, code, out)
	}
	// An email-only member gains an external id: its row follows the new key (§15).
	send(map[string]any{"name": "user.updated", "email": "hi-1@example.com", "contactProperties": map[string]any{"plan": "pro"}})
	send(map[string]any{"name": "user.updated", "userId": "hi-1", "email": "hi-1@example.com"})
	rows := j.members(t, "t-pro", "hi-1", "active")
	require.Len(t, rows, 1)
	require.EqualValues(t, 1, rows[0]["entryCount"])

	// Two members merge: one active row remains, the other is closed silently.
	send(map[string]any{"name": "user.updated", "userId": "hi-2", "contactProperties": map[string]any{"plan": "pro"}})
	send(map[string]any{"name": "user.updated", "userId": "hi-3", "email": "hi-3@example.com", "contactProperties": map[string]any{"plan": "pro"}})
	send(map[string]any{"name": "user.updated", "userId": "hi-2", "email": "hi-3@example.com"})
	require.Len(t, j.members(t, "t-pro", "hi-2", "active"), 1)
	require.Len(t, j.members(t, "t-pro", "hi-2", "left"), 1, "the loser's row, folded onto the survivor")
	require.Empty(t, j.members(t, "t-pro", "hi-3", "active"))
	require.Equal(t, 0, j.eventCount(t, "hi-2", "bucket:left:t-pro"), "folding is no leave")
}
