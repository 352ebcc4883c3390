package hogsend

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/hogsend/hogsend/activities"
	"github.com/hogsend/hogsend/example/journeys"
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker/workertest"
)

// e2eSend sends, sleeps two seconds and sends again: the enrol/send/sleep scenario in seconds.
var e2eSend = journey.MustDefine(journey.Meta{
	ID: "e2e-send", Name: "E2E — Send and Sleep", Enabled: true, EntryLimit: journey.EntryOnce,
	Trigger: journey.Trigger{Event: "e2e.send"}, ExitOn: []journey.ExitRule{{Event: "e2e.stop"}},
}, func(ctx journey.Context, u journey.User) error {
	if _, err := journey.Send(ctx, templates.Quickstart, templates.QuickstartProps{}); err != nil {
		return err
	}
	if _, err := ctx.Sleep(journey.Seconds(2), "between-sends"); err != nil {
		return err
	}
	_, err := journey.Send(ctx, templates.Community, templates.CommunityProps{})
	return err
})

// e2ePanic fails in user code.
var e2ePanic = journey.MustDefine(journey.Meta{
	ID: "e2e-panic", Name: "E2E — Panic", Enabled: true, EntryLimit: journey.EntryUnlimited,
	Trigger: journey.Trigger{Event: "e2e.panic"},
}, func(ctx journey.Context, u journey.User) error {
	if err := ctx.Checkpoint("about-to-panic"); err != nil {
		return err
	}
	panic("template data missing")
})

// e2eKeyed runs once per cart: it waits for that cart's checkout.
var e2eKeyed = journey.MustDefine(journey.Meta{
	ID: "e2e-keyed", Name: "E2E — Keyed by cart", Enabled: true, EntryLimit: journey.EntryOnce, Key: "cartId",
	Trigger: journey.Trigger{Event: "cart.abandoned"}, ExitOn: []journey.ExitRule{{Event: "user.deleted"}},
}, func(ctx journey.Context, u journey.User) error {
	res, err := ctx.WaitForEvent("cart.completed", journey.Seconds(30), "")
	if err != nil {
		return err
	}
	return ctx.Trigger(journey.TriggerOptions{Event: "cart.result", Properties: map[string]any{"cartId": u.Key, "timedOut": res.TimedOut}})
})

type journeyEnv struct {
	base       string
	engine     *Engine
	sent       *activities.RecordingSender
	stopWorker func()
}

func startJourneyEngine(t *testing.T) *journeyEnv {
	t.Helper()
	pool, dsn := schematest.TestDB(t)
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hooks.Close)
	schematest.Subscribe(t, pool, hooks.URL, "journey.completed")
	sent := &activities.RecordingSender{}
	opts := &Options{Journeys: append(journeys.All(), e2eSend, e2ePanic, e2eKeyed), JourneySender: sent}
	e, _ := testEngineWith(t, testEnv(t, dsn, true), opts)
	base := serve(t, e)
	runWorker(t, e)
	return &journeyEnv{base: base, engine: e, sent: sent}
}

func doJSON(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	return requestJSON(t, method, url, testAdminKey, body)
}

func (j *journeyEnv) event(t *testing.T, user, name string, props map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"name": name, "userId": user, "eventProperties": props}
	code, out := postJSON(t, j.base+"/v1/events", body)
	require.Equal(t, http.StatusAccepted, code, out)
	return out
}

// states lists a journey's runs of one user.
func (j *journeyEnv) states(t *testing.T, journeyID, user string) []map[string]any {
	t.Helper()
	code, out := getJSON(t, j.base+"/v1/admin/journeys/"+journeyID+"/states?userId="+url.QueryEscape(user), testAdminKey)
	require.Equal(t, http.StatusOK, code, out)
	var list []map[string]any
	for _, s := range out["states"].([]any) {
		list = append(list, s.(map[string]any))
	}
	return list
}

// waitState waits for the user's only run of a journey to reach status and returns it.
func (j *journeyEnv) waitState(t *testing.T, journeyID, user, status string) map[string]any {
	t.Helper()
	var last map[string]any
	waitUntil(t, fmt.Sprintf("%s of %s to be %s", journeyID, user, status), func() bool {
		list := j.states(t, journeyID, user)
		if len(list) == 0 {
			return false
		}
		last = list[0]
		return last["status"] == status
	})
	return last
}

func (j *journeyEnv) eventCount(t *testing.T, user, name string) int {
	t.Helper()
	code, out := getJSON(t, j.base+"/v1/admin/events?userId="+url.QueryEscape(user)+"&event="+url.QueryEscape(name), testAdminKey)
	require.Equal(t, http.StatusOK, code, out)
	return int(out["total"].(float64))
}

func (j *journeyEnv) logActions(t *testing.T, stateID string) []string {
	t.Helper()
	code, out := getJSON(t, j.base+"/v1/admin/journey-logs/"+stateID, testAdminKey)
	require.Equal(t, http.StatusOK, code, out)
	var actions []string
	for _, l := range out["logs"].([]any) {
		actions = append(actions, l.(map[string]any)["action"].(string))
	}
	return actions
}

func (j *journeyEnv) sentTo(user string) []string {
	var out []string
	for _, s := range j.sent.Sent() {
		if s.UserID == user {
			out = append(out, s.Template)
		}
	}
	return out
}

func TestJourneysEndToEnd(t *testing.T) {
	j := startJourneyEngine(t)

	t.Run("enrol, send, sleep, send, complete", func(t *testing.T) {
		t.Parallel()
		j.event(t, "send-1", "e2e.send", map[string]any{"plan": "pro", "nested": map[string]any{"a": 1}})
		waiting := j.waitState(t, "e2e-send", "send-1", "waiting")
		require.Equal(t, "between-sends", waiting["currentNodeId"])
		require.Equal(t, map[string]any{"plan": "pro"}, waiting["context"], "only scalar properties reach a run")
		require.Equal(t, []string{"activation-quickstart"}, j.sentTo("send-1"))
		done := j.waitState(t, "e2e-send", "send-1", "completed")
		require.Equal(t, []string{"activation-quickstart", "activation-community"}, j.sentTo("send-1"))
		require.Equal(t, "between-sends", done["currentNodeId"]) // the last step; the log says "done"
		require.NotEmpty(t, done["hatchetRunId"])
		require.Equal(t, []string{"entered", "email_sent", "waiting", "resumed", "email_sent", "completed"},
			j.logActions(t, done["id"].(string)))
		var completedEvents int
		require.NoError(t, j.engine.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries
			WHERE event_type = 'journey.completed' AND payload->'data'->>'stateId' = $1`, done["id"]).Scan(&completedEvents))
		require.Equal(t, 1, completedEvents, "one outbound journey.completed per run")

		// once: a second trigger after completion enrolls nobody.
		j.event(t, "send-1", "e2e.send", nil)
		time.Sleep(300 * time.Millisecond)
		require.Len(t, j.states(t, "e2e-send", "send-1"), 1)
	})

	t.Run("sleep journey, entry period, re-entry after it", func(t *testing.T) {
		t.Parallel()
		j.event(t, "sleep-1", "test.sleep_start", nil)
		j.event(t, "sleep-1", "test.sleep_start", nil) // inside the 10 s period: skipped
		s := j.waitState(t, "test-sleep", "sleep-1", "completed")
		require.Len(t, j.states(t, "test-sleep", "sleep-1"), 1)
		require.Equal(t, 1, j.eventCount(t, "sleep-1", "test.slept"))
		require.Equal(t, []string{"entered", "checkpoint", "waiting", "resumed", "event_triggered", "completed"},
			j.logActions(t, s["id"].(string)))

		// Past the period a new run starts beside the completed one, numbered 2.
		created, err := time.Parse(time.RFC3339, s["createdAt"].(string))
		require.NoError(t, err)
		time.Sleep(time.Until(created.Add(10*time.Second + 100*time.Millisecond)))
		j.event(t, "sleep-1", "test.sleep_start", nil)
		waitUntil(t, "a second run", func() bool { return len(j.states(t, "test-sleep", "sleep-1")) == 2 })
		require.EqualValues(t, 2, j.states(t, "test-sleep", "sleep-1")[0]["entryCount"])
	})

	t.Run("exit during a sleep", func(t *testing.T) {
		t.Parallel()
		j.event(t, "exit-1", "test.sleep_start", nil)
		s := j.waitState(t, "test-sleep", "exit-1", "waiting")
		out := j.event(t, "exit-1", "test.cancel", nil)
		require.Equal(t, []any{map[string]any{"journeyId": "test-sleep", "stateId": s["id"], "exited": true}}, out["exits"])
		j.waitState(t, "test-sleep", "exit-1", "exited")
		time.Sleep(4 * time.Second) // past the sleep: nothing may run after the exit
		require.Equal(t, 0, j.eventCount(t, "exit-1", "test.slept"))
		require.Equal(t, "exited", j.states(t, "test-sleep", "exit-1")[0]["status"])
	})

	t.Run("exit filter and trigger strictness", func(t *testing.T) {
		t.Parallel()
		j.event(t, "strict-1", "test.wait_start", map[string]any{"eligible": "true"}) // a string, not true
		time.Sleep(300 * time.Millisecond)
		require.Empty(t, j.states(t, "test-wait-for-event", "strict-1"))

		j.event(t, "strict-1", "test.wait_start", map[string]any{"eligible": true})
		s := j.waitState(t, "test-wait-for-event", "strict-1", "waiting")
		out := j.event(t, "strict-1", "test.cancel", map[string]any{"scope": "sleep"})
		require.Equal(t, []any{map[string]any{"journeyId": "test-wait-for-event", "stateId": s["id"], "exited": false}}, out["exits"])
		out = j.event(t, "strict-1", "test.cancel", map[string]any{"scope": "wait"})
		require.Equal(t, []any{map[string]any{"journeyId": "test-wait-for-event", "stateId": s["id"], "exited": true}}, out["exits"])
		j.waitState(t, "test-wait-for-event", "strict-1", "exited")
	})

	t.Run("wait satisfied, per contact", func(t *testing.T) {
		t.Parallel()
		j.event(t, "wait-1", "test.wait_start", map[string]any{"eligible": true})
		j.waitState(t, "test-wait-for-event", "wait-1", "waiting")
		j.event(t, "wait-other", "test.activated", nil) // another contact's event wakes nobody here
		j.event(t, "wait-1", "test.activated", nil)
		j.waitState(t, "test-wait-for-event", "wait-1", "completed")
		require.Equal(t, 1, j.eventCount(t, "wait-1", "test.wait_satisfied"))
		require.Equal(t, 0, j.eventCount(t, "wait-1", "test.wait_timed_out"))
	})

	t.Run("wait times out, earlier events do not count", func(t *testing.T) {
		t.Parallel()
		j.event(t, "wait-2", "test.activated", nil) // before the wait: ignored
		j.event(t, "wait-2", "test.wait_start", map[string]any{"eligible": true})
		j.waitState(t, "test-wait-for-event", "wait-2", "completed")
		require.Equal(t, 1, j.eventCount(t, "wait-2", "test.wait_timed_out"))
		require.Equal(t, 0, j.eventCount(t, "wait-2", "test.wait_satisfied"))
	})

	t.Run("concurrent triggers enroll once", func(t *testing.T) {
		t.Parallel()
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j.event(t, "race-1", "test.wait_start", map[string]any{"eligible": true})
			}()
		}
		wg.Wait()
		j.waitState(t, "test-wait-for-event", "race-1", "waiting")
		require.Len(t, j.states(t, "test-wait-for-event", "race-1"), 1)
	})

	t.Run("idempotent ingest enrolls once", func(t *testing.T) {
		t.Parallel()
		for range 2 {
			code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "test.signup", "userId": "idem-1",
				"idempotencyKey": "signup-idem-1"})
			require.Equal(t, http.StatusAccepted, code, out)
		}
		j.waitState(t, "test-onboarding", "idem-1", "completed")
		require.Len(t, j.states(t, "test-onboarding", "idem-1"), 1)
		require.Equal(t, 1, j.eventCount(t, "idem-1", "journey.free_path"))

		// unlimited: a new trigger after completion is a second completed run.
		j.event(t, "idem-1", "test.signup", nil)
		waitUntil(t, "a second completed run", func() bool {
			list := j.states(t, "test-onboarding", "idem-1")
			return len(list) == 2 && list[0]["status"] == "completed"
		})
	})

	t.Run("a panic fails the run with its message", func(t *testing.T) {
		t.Parallel()
		j.event(t, "panic-1", "e2e.panic", nil)
		s := j.waitState(t, "e2e-panic", "panic-1", "failed")
		require.Equal(t, "panic: template data missing", s["errorMessage"])
		require.Equal(t, "about-to-panic", s["currentNodeId"])
	})

	t.Run("admin cancel, disable, enrol", func(t *testing.T) {
		t.Parallel()
		j.event(t, "admin-1", "test.wait_start", map[string]any{"eligible": true})
		s := j.waitState(t, "test-wait-for-event", "admin-1", "waiting")
		path := j.base + "/v1/admin/journeys/test-wait-for-event/states/" + s["id"].(string)
		code, out := doJSON(t, http.MethodDelete, path, nil)
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, "exited", out["state"].(map[string]any)["status"])
		require.Equal(t, true, out["workflowCancelled"])
		code, out = doJSON(t, http.MethodDelete, path, nil)
		require.Equal(t, http.StatusConflict, code)
		require.Equal(t, "Cannot cancel journey in 'exited' status", out["error"])
		code, _ = doJSON(t, http.MethodDelete, j.base+"/v1/admin/journeys/test-wait-for-event/states/not-a-uuid", nil)
		require.Equal(t, http.StatusBadRequest, code)

		code, out = doJSON(t, http.MethodPost, j.base+"/v1/admin/journeys/test-onboarding/enroll",
			map[string]any{"userId": "admin-2", "userEmail": "admin2@example.com", "properties": map[string]any{"plan": "pro"}})
		require.Equal(t, http.StatusAccepted, code, out)
		require.Equal(t, map[string]any{"enrolled": true, "event": "test.signup", "userId": "admin-2"}, out)
		j.waitState(t, "test-onboarding", "admin-2", "completed")
		require.Equal(t, 1, j.eventCount(t, "admin-2", "journey.pro_path"))

		code, out = doJSON(t, http.MethodPost, j.base+"/v1/admin/journeys/test-onboarding/enroll/batch",
			map[string]any{"users": []any{map[string]any{"userId": "batch-1", "userEmail": "b1@example.com"},
				map[string]any{"userId": "batch-2", "userEmail": "b2@example.com"}}})
		require.Equal(t, http.StatusOK, code, out)
		require.EqualValues(t, 2, out["enrolled"])
		j.waitState(t, "test-onboarding", "batch-2", "completed")
		code, _ = doJSON(t, http.MethodPost, j.base+"/v1/admin/journeys/test-onboarding/enroll/batch", map[string]any{"users": []any{}})
		require.Equal(t, http.StatusBadRequest, code)
		code, _ = doJSON(t, http.MethodPost, j.base+"/v1/admin/journeys/nope/enroll", map[string]any{"userId": "x", "userEmail": "x@example.com"})
		require.Equal(t, http.StatusNotFound, code)
	})

	t.Run("disabled journeys start nothing, running ones finish", func(t *testing.T) {
		j.event(t, "dis-1", "test.sleep_start", nil)
		j.waitState(t, "test-sleep", "dis-1", "waiting")
		code, out := doJSON(t, http.MethodPatch, j.base+"/v1/admin/journeys/test-sleep", map[string]any{"enabled": false})
		require.Equal(t, http.StatusOK, code, out)
		require.Equal(t, false, out["journey"].(map[string]any)["enabled"])
		j.event(t, "dis-2", "test.sleep_start", nil)
		j.waitState(t, "test-sleep", "dis-1", "completed")
		require.Empty(t, j.states(t, "test-sleep", "dis-2"))
		code, out = getJSON(t, j.base+"/v1/admin/journeys?enabled=false", testAdminKey)
		require.Equal(t, http.StatusOK, code)
		require.EqualValues(t, 1, out["total"])
		code, _ = doJSON(t, http.MethodPut, j.base+"/v1/admin/journeys/test-sleep", map[string]any{"enabled": true})
		require.Equal(t, http.StatusOK, code)
		j.event(t, "dis-2", "test.sleep_start", nil)
		j.waitState(t, "test-sleep", "dis-2", "waiting")
	})

	t.Run("runs are found by contact id in Temporal", func(t *testing.T) {
		t.Parallel()
		j.event(t, "sa-1", "test.wait_start", map[string]any{"eligible": true})
		j.waitState(t, "test-wait-for-event", "sa-1", "waiting")
		code, found := getJSON(t, j.base+"/v1/contacts/find?userId=sa-1", testAdminKey)
		require.Equal(t, http.StatusOK, code, found)
		contactID := found["contacts"].([]any)[0].(map[string]any)["id"].(string)
		c := j.engine.Temporal()
		waitUntil(t, "the run to be visible by contact id", func() bool {
			res, err := c.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
				Query: fmt.Sprintf("HogsendContactId = '%s' AND HogsendJourneyId = 'test-wait-for-event'", contactID)})
			return err == nil && len(res.Executions) == 1
		})
		val, err := c.QueryWorkflow(context.Background(), journey.WorkflowID("test-wait-for-event", contactID, ""), "", journey.QueryState)
		require.NoError(t, err)
		var st journey.RunState
		require.NoError(t, val.Get(&st))
		require.Equal(t, "await-activation", st.CurrentNodeID)
		require.Equal(t, "wait_for_event", st.Waiting.Kind)
	})

	t.Run("keyed runs: one per cart, woken and exited per key", func(t *testing.T) {
		t.Parallel()
		j.event(t, "cart-1", "cart.abandoned", map[string]any{"cartId": "A"})
		j.event(t, "cart-1", "cart.abandoned", map[string]any{"cartId": "B"})
		j.event(t, "cart-1", "cart.abandoned", map[string]any{"cartId": "A"}) // once per key
		j.event(t, "cart-1", "cart.abandoned", nil)                           // no key: no run
		waitUntil(t, "two carts waiting", func() bool {
			n := 0
			for _, s := range j.states(t, "e2e-keyed", "cart-1") {
				if s["status"] == "waiting" {
					n++
				}
			}
			return n == 2
		})
		require.Len(t, j.states(t, "e2e-keyed", "cart-1"), 2)
		j.event(t, "cart-1", "cart.completed", map[string]any{"cartId": "A"})
		waitUntil(t, "cart A to complete", func() bool {
			byStatus := map[any]int{}
			for _, s := range j.states(t, "e2e-keyed", "cart-1") {
				byStatus[s["status"]]++
			}
			return byStatus["completed"] == 1 && byStatus["waiting"] == 1
		})
		out := j.event(t, "cart-1", "user.deleted", nil)
		exited := 0
		for _, e := range out["exits"].([]any) {
			if e.(map[string]any)["journeyId"] == "e2e-keyed" && e.(map[string]any)["exited"] == true {
				exited++
			}
		}
		require.Equal(t, 1, exited, "the user's remaining cart run exits")
		require.Equal(t, 1, j.eventCount(t, "cart-1", "cart.result"))
	})

	t.Run("a repeated start intent finds its own run", func(t *testing.T) {
		t.Parallel()
		j.event(t, "dup-1", "test.wait_start", map[string]any{"eligible": true})
		s := j.waitState(t, "test-wait-for-event", "dup-1", "waiting")
		ctx := context.Background()
		// As if the dispatcher died after starting the run, before it recorded anything.
		_, err := j.engine.pool.Exec(ctx, `UPDATE journey_states SET run_id = NULL WHERE id = $1`, s["id"])
		require.NoError(t, err)
		_, err = j.engine.pool.Exec(ctx, `UPDATE outbox SET dispatched_at = NULL, next_attempt_at = now() WHERE dedupe_key = $1`,
			"journey.start:"+s["id"].(string))
		require.NoError(t, err)
		j.engine.Outbox().Kick()
		waitUntil(t, "the repeated start to be done", func() bool {
			var done bool
			require.NoError(t, j.engine.pool.QueryRow(ctx, `SELECT dispatched_at IS NOT NULL AND last_error IS NULL FROM outbox WHERE dedupe_key = $1`,
				"journey.start:"+s["id"].(string)).Scan(&done))
			return done
		})
		res, err := j.engine.Temporal().ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = '%s'", s["workflowId"])})
		require.NoError(t, err)
		require.Len(t, res.Executions, 1, "the start found its own run (by memo) and started no other")
		require.Equal(t, "waiting", j.states(t, "test-wait-for-event", "dup-1")[0]["status"])
	})

	t.Run("admin list and detail", func(t *testing.T) {
		t.Parallel()
		code, out := getJSON(t, j.base+"/v1/admin/journeys/conversion-abandoned-checkout", testAdminKey)
		require.Equal(t, http.StatusOK, code, out)
		d := out["journey"].(map[string]any)
		require.Equal(t, "once_per_period", d["entryLimit"])
		require.Equal(t, map[string]any{"hours": float64(4)}, d["suppress"])
		require.Len(t, d["exitOn"], 2)
		code, _ = getJSON(t, j.base+"/v1/admin/journeys/unknown", testAdminKey)
		require.Equal(t, http.StatusNotFound, code)
		code, _ = getJSON(t, j.base+"/v1/admin/journeys/test-sleep/states?status=sleeping", testAdminKey)
		require.Equal(t, http.StatusBadRequest, code)
	})
}

func TestJourneyStartWaitsOutATemporalOutage(t *testing.T) {
	t.Parallel()
	g := newGate(t, workertest.Server(t).GetFrontendHostPort())
	_, dsn := schematest.TestDB(t)
	env := testEnv(t, dsn, true)
	env["TEMPORAL_ADDRESS"] = g.addr
	e, _ := testEngineWith(t, env, &Options{Journeys: journeys.All(), JourneySender: &activities.RecordingSender{}})
	j := &journeyEnv{base: serve(t, e), engine: e}
	runWorker(t, e) // started during the outage: it waits for Temporal

	j.event(t, "down-1", "test.sleep_start", nil) // acknowledged while Temporal is unreachable
	s := j.states(t, "test-sleep", "down-1")
	require.Len(t, s, 1, "the enrolment committed with the event")
	require.Equal(t, "active", s[0]["status"])
	require.Nil(t, s[0]["hatchetRunId"])
	waitUntil(t, "a failed start attempt", func() bool {
		var lastError *string
		_ = e.pool.QueryRow(context.Background(), `SELECT last_error FROM outbox WHERE kind = 'journey.start'`).Scan(&lastError)
		return lastError != nil
	})

	g.open(t) // Temporal is back
	j.waitState(t, "test-sleep", "down-1", "completed")
	require.Equal(t, 1, j.eventCount(t, "down-1", "test.slept"))
}

func TestARunSurvivesItsWorkerStopping(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	e, _ := testEngineWith(t, testEnv(t, dsn, true), &Options{Journeys: journeys.All(), JourneySender: &activities.RecordingSender{}})
	j := &journeyEnv{base: serve(t, e), engine: e}
	stop := runWorker(t, e)

	j.event(t, "restart-1", "test.sleep_start", nil)
	j.waitState(t, "test-sleep", "restart-1", "waiting")
	stop()                      // the only worker goes away mid-sleep
	time.Sleep(4 * time.Second) // the 3 s timer fires with nobody to run the run
	require.Equal(t, "waiting", j.states(t, "test-sleep", "restart-1")[0]["status"])

	runWorker(t, e) // a new worker picks the run up where it stopped
	j.waitState(t, "test-sleep", "restart-1", "completed")
	require.Equal(t, 1, j.eventCount(t, "restart-1", "test.slept"))
}

// contactID ingests a non-trigger event for user and returns the contact's uuid.
func (j *journeyEnv) contactID(t *testing.T, user string) string {
	t.Helper()
	j.event(t, user, "test.hello", nil)
	var id string
	require.NoError(t, j.engine.pool.QueryRow(context.Background(), `SELECT id::text FROM contacts WHERE external_id = $1`, user).Scan(&id))
	return id
}

func TestAStartThatMeetsTheLastRunStillOpenRunsOnceItCloses(t *testing.T) {
	t.Parallel()
	j := startJourneyEngine(t)
	ctx := context.Background()
	user := "closing-1"
	wfID := journey.WorkflowID("test-sleep", j.contactID(t, user), "")
	// An execution under the run's workflow id that no worker picks up: the previous run of
	// this journey for this contact, still open.
	blocker, err := j.engine.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: "nobody-polls-" + user}, "previous-run")
	require.NoError(t, err)

	j.event(t, user, "test.sleep_start", nil)
	waitUntil(t, "the start to meet the open run", func() bool {
		var lastError *string
		_ = j.engine.pool.QueryRow(ctx, `SELECT last_error FROM outbox WHERE kind = 'journey.start'`).Scan(&lastError)
		return lastError != nil
	})
	var dispatched bool
	require.NoError(t, j.engine.pool.QueryRow(ctx, `SELECT dispatched_at IS NOT NULL FROM outbox WHERE kind = 'journey.start'`).Scan(&dispatched))
	require.False(t, dispatched, "the start is not done while another run holds the id")

	require.NoError(t, j.engine.temporal.TerminateWorkflow(ctx, wfID, blocker.GetRunID(), "test: the previous run closes"))
	j.waitState(t, "test-sleep", user, "completed")
	require.Equal(t, 1, j.eventCount(t, user, "test.slept"))
}

func TestASecondRunOfOneEnrolmentDoesNothing(t *testing.T) {
	t.Parallel()
	j := startJourneyEngine(t)
	ctx := context.Background()
	user := "second-run-1"
	j.event(t, user, "test.sleep_start", nil)
	s := j.waitState(t, "test-sleep", user, "waiting")
	var wfID, firstRun string
	require.NoError(t, j.engine.pool.QueryRow(ctx, `SELECT workflow_id, run_id FROM journey_states WHERE id = $1`, s["id"]).Scan(&wfID, &firstRun))
	// The run goes away with its row still live, then its start is dispatched again.
	require.NoError(t, j.engine.temporal.TerminateWorkflow(ctx, wfID, firstRun, "test"))
	_, err := j.engine.pool.Exec(ctx, `UPDATE outbox SET dispatched_at = NULL, next_attempt_at = now() WHERE kind = 'journey.start'`)
	require.NoError(t, err)
	j.engine.outbox.Kick()

	waitUntil(t, "a second run to start and stop", func() bool {
		desc, err := j.engine.temporal.DescribeWorkflowExecution(ctx, wfID, "")
		if err != nil {
			return false
		}
		info := desc.GetWorkflowExecutionInfo()
		return info.GetExecution().GetRunId() != firstRun && info.GetCloseTime() != nil
	})
	require.Equal(t, 0, j.eventCount(t, user, "test.slept"), "the second run did not replay the journey")
	require.Equal(t, []string{"entered", "checkpoint", "waiting"}, j.logActions(t, s["id"].(string)))
}

func TestNoEmailAddressReachesTemporal(t *testing.T) {
	t.Parallel()
	j := startJourneyEngine(t)
	const addr = "pii.ada@example.com"
	code, out := postJSON(t, j.base+"/v1/events", map[string]any{"name": "e2e.send", "userId": "pii-1", "email": addr})
	require.Equal(t, http.StatusAccepted, code, out)
	s := j.waitState(t, "e2e-send", "pii-1", "completed")
	for _, sent := range j.sent.Sent() {
		if sent.StateID == s["id"] {
			require.Equal(t, addr, sent.To, "the send activity found the enrolled address")
		}
	}
	require.Len(t, j.sentTo("pii-1"), 2)

	// Not in the input, memo, search attributes, activity inputs or results: the whole history,
	// payloads included, is searched byte for byte.
	var wfID string
	require.NoError(t, j.engine.pool.QueryRow(context.Background(), `SELECT workflow_id FROM journey_states WHERE id = $1`, s["id"]).Scan(&wfID))
	it := j.engine.temporal.GetWorkflowHistory(context.Background(), wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	events := 0
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		raw, err := proto.Marshal(ev)
		require.NoError(t, err)
		require.NotContains(t, string(raw), addr, "history event %d (%s)", ev.GetEventId(), ev.GetEventType())
		events++
	}
	require.Greater(t, events, 5)
}
