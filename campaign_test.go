package hogsend

import (
	"bytes"
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/email/smtptest"
	"github.com/hogsend/hogsend/example/buckets"
	"github.com/hogsend/hogsend/example/templates"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker"
)

// startCampaignEngine runs API and worker with the example app's templates, list and buckets,
// sending over SMTP into a server that keeps what it receives.
func startCampaignEngine(t *testing.T) *mailEnv {
	t.Helper()
	_, dsn := schematest.TestDB(t)
	sink, err := smtptest.Start(false)
	require.NoError(t, err)
	t.Cleanup(sink.Close)
	env := testEnv(t, dsn, true)
	env["EMAIL_PROVIDER"], env["SMTP_URL"], env["CAMPAIGN_PAGE_SIZE"] = "smtp", sink.URL(), "2"
	e, logs := testEngineWith(t, env, &Options{Templates: templates.Registry(), Lists: templates.Lists(), Buckets: buckets.All()})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	m := newMailEnv(t, e, sink)
	runWorker(t, e)
	return m
}

// campaign reads a campaign over the data plane.
func (m *mailEnv) campaign(t *testing.T, id string) map[string]any {
	t.Helper()
	code, out, _, raw := m.call(t, http.MethodGet, "/v1/campaigns/"+id, m.ing, nil, nil)
	require.Equal(t, http.StatusOK, code, raw)
	return out
}

// waitCampaign polls a campaign until its status is want.
func (m *mailEnv) waitCampaign(t *testing.T, id, want string) map[string]any {
	t.Helper()
	var c map[string]any
	waitUntil(t, "campaign "+id+" to be "+want, func() bool { c = m.campaign(t, id); return c["status"] == want })
	return c
}

func (m *mailEnv) createCampaign(t *testing.T, body map[string]any, header map[string]string) string {
	t.Helper()
	code, out, _, raw := m.call(t, http.MethodPost, "/v1/campaigns", m.ing, body, header)
	require.Equal(t, http.StatusAccepted, code, raw)
	return out["campaignId"].(string)
}

func (m *mailEnv) recipients(addrs ...string) []string {
	var out []string
	for _, a := range addrs {
		for range m.smtp.To(a) {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

func TestListAndBucketCampaignsOverHTTP(t *testing.T) {
	t.Parallel()
	m := startCampaignEngine(t)
	for _, a := range []string{"c1@example.com", "c2@example.com", "c3@example.com"} {
		code, _, _, raw := m.call(t, http.MethodPost, "/v1/lists/product-updates/subscribe", m.ing, map[string]any{"email": a}, nil)
		require.Equal(t, http.StatusOK, code, raw)
	}
	code, _, _, raw := m.call(t, http.MethodPost, "/v1/lists/product-updates/unsubscribe", m.ing, map[string]any{"email": "c3@example.com"}, nil)
	require.Equal(t, http.StatusOK, code, raw)
	code, _, _, raw = m.call(t, http.MethodPut, "/v1/contacts", m.ing, map[string]any{"email": "c4@example.com"}, nil) // never joined
	require.Equal(t, http.StatusOK, code, raw)

	// A list campaign: 202 at once, then sent to the two members, once each.
	code, out, _, raw := m.call(t, http.MethodPost, "/v1/campaigns", m.ing, map[string]any{"list": "product-updates", "template": "welcome",
		"props": map[string]any{"firstName": "friend"}, "subject": "What's new"}, map[string]string{"Idempotency-Key": "june"})
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, "queued", out["status"])
	id := out["campaignId"].(string)
	c := m.waitCampaign(t, id, "sent")
	require.Equal(t, []any{float64(2), float64(2), float64(0), float64(0)}, []any{c["totalRecipients"], c["sentCount"], c["skippedCount"], c["failedCount"]})
	require.Equal(t, map[string]any{"audienceKind": "list", "audienceId": "product-updates", "templateKey": "welcome",
		"name": "Campaign to list product-updates"}, map[string]any{"audienceKind": c["audienceKind"], "audienceId": c["audienceId"],
		"templateKey": c["templateKey"], "name": c["name"]})
	require.NotNil(t, c["startedAt"])
	require.NotNil(t, c["completedAt"])
	require.NotContains(t, c, "props")
	require.Equal(t, []string{"c1@example.com", "c2@example.com"}, m.recipients("c1@example.com", "c2@example.com", "c3@example.com", "c4@example.com"))
	require.Equal(t, "What's new", m.smtp.To("c1@example.com")[0].Header.Get("Subject"))
	// The operator's view of it.
	var stdout, stderr bytes.Buffer
	require.Zero(t, Run(context.Background(), []string{"hogsend", "campaigns", "status", id, "--watch", "--url", m.base, "--data-key", m.ing},
		&stdout, &stderr, &Options{LookupEnv: envOf(nil)}), stderr.String())
	require.Regexp(t, `(?m)^id: +`+id+`\nname: +.*\nstatus: +sent\naudienceKind: +list\naudienceId: +product-updates\ntemplateKey: +welcome\ntotalRecipients: +2\nsentCount: +2\nskippedCount: +0\nfailedCount: +0\n`, stdout.String())

	// The same key again: the same campaign, nothing sent twice.
	code, out, _, raw = m.call(t, http.MethodPost, "/v1/campaigns", m.ing, map[string]any{"list": "product-updates", "template": "welcome"},
		map[string]string{"Idempotency-Key": "june"})
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, map[string]any{"campaignId": id, "status": "sent"}, out)
	code, _, _, raw = m.call(t, http.MethodPost, "/v1/campaigns/"+id+"/cancel", m.ing, nil, nil)
	require.Equal(t, http.StatusConflict, code, raw)
	require.JSONEq(t, `{"error":"Campaign is already sent"}`, raw)

	// A bucket campaign reaches the bucket's active members.
	for _, u := range []struct{ id, plan string }{{"cb-1", "pro"}, {"cb-2", "free"}} {
		code, _, _, raw := m.call(t, http.MethodPost, "/v1/events", m.ing, map[string]any{"name": "user.updated", "userId": u.id,
			"email": u.id + "@example.com", "contactProperties": map[string]any{"plan": u.plan}}, nil)
		require.Equal(t, http.StatusAccepted, code, raw)
	}
	bid := m.createCampaign(t, map[string]any{"bucket": "t-pro", "template": "welcome"}, nil)
	c = m.waitCampaign(t, bid, "sent")
	require.EqualValues(t, 1, c["sentCount"])
	require.Equal(t, []string{"cb-1@example.com"}, m.recipients("cb-1@example.com", "cb-2@example.com"))

	// The admin list shows both, newest first.
	code, list, _, raw := m.call(t, http.MethodGet, "/v1/admin/campaigns", m.ro, nil, nil)
	require.Equal(t, http.StatusOK, code, raw)
	require.EqualValues(t, 2, list["total"])
	require.Equal(t, bid, list["campaigns"].([]any)[0].(map[string]any)["id"])

	// The reaper's schedule exists.
	h := m.engine.temporal.ScheduleClient().GetHandle(context.Background(), worker.ReaperScheduleID(m.engine.cfg.Temporal.TaskQueue))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	waitUntil(t, "the worker to create the reaper schedule", func() bool { _, err := h.Describe(context.Background()); return err == nil })
}

func TestCampaignControlsOverHTTP(t *testing.T) {
	t.Parallel()
	m := startCampaignEngine(t)
	for i := range 6 {
		code, _, _, raw := m.call(t, http.MethodPost, "/v1/lists/product-updates/subscribe", m.ing,
			map[string]any{"email": "ctl-" + string(rune('a'+i)) + "@example.com"}, nil)
		require.Equal(t, http.StatusOK, code, raw)
	}
	// Paced to 2 a second, the campaign is still sending when it is paused.
	id := m.createCampaign(t, map[string]any{"list": "product-updates", "template": "welcome", "sendsPerSecond": 2}, nil)
	m.waitCampaign(t, id, "sending")
	code, out, _, raw := m.call(t, http.MethodPost, "/v1/campaigns/"+id+"/pause", m.ing, nil, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, "paused", out["status"])
	// The page in flight finishes; after it nothing is sent while paused.
	var settled int64
	waitUntil(t, "the page in flight to finish", func() bool {
		c := m.campaign(t, id)
		settled = m.smtp.Count()
		return int64(c["sentCount"].(float64)) == settled
	})
	require.Less(t, settled, int64(6))
	code, _, _, raw = m.call(t, http.MethodPost, "/v1/campaigns/"+id+"/pause", m.ing, nil, nil)
	require.Equal(t, http.StatusConflict, code, raw)
	require.JSONEq(t, `{"error":"Campaign is paused"}`, raw)
	code, out, _, raw = m.call(t, http.MethodPost, "/v1/campaigns/"+id+"/resume", m.ing, nil, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, "sending", out["status"])
	c := m.waitCampaign(t, id, "sent")
	require.EqualValues(t, 6, c["sentCount"])
	require.EqualValues(t, 6, m.smtp.Count(), "every member once")

	// A scheduled campaign waits; cancelled, it never sends.
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code, out, _, raw = m.call(t, http.MethodPost, "/v1/campaigns", m.ing, map[string]any{"list": "product-updates", "template": "welcome",
		"scheduledAt": at}, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, "scheduled", out["status"])
	later := out["campaignId"].(string)
	require.Equal(t, at, m.campaign(t, later)["scheduledAt"].(string)[:19]+"Z")
	code, out, _, raw = m.call(t, http.MethodPost, "/v1/campaigns/"+later+"/cancel", m.ing, nil, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, "cancelled", out["status"])
	require.NotNil(t, m.campaign(t, later)["completedAt"])
	require.EqualValues(t, 6, m.smtp.Count())
}

func TestCampaignInputErrorsOverHTTP(t *testing.T) {
	t.Parallel()
	m := startMailEngine(t, func(_ map[string]string, opts *Options) { opts.Buckets = buckets.All() })
	for _, c := range []struct {
		key   string
		body  map[string]any
		code  int
		error string
	}{
		{"", map[string]any{"list": "product-updates", "template": "welcome"}, http.StatusUnauthorized, "Unauthorized"},
		{m.ro, map[string]any{"list": "product-updates", "template": "welcome"}, http.StatusForbidden, "Forbidden: insufficient scope"},
		{m.ing, map[string]any{"template": "welcome"}, http.StatusBadRequest, ""},
		{m.ing, map[string]any{"list": "product-updates", "bucket": "t-pro", "template": "welcome"}, http.StatusBadRequest, ""},
		{m.ing, map[string]any{"list": "product-updates"}, http.StatusBadRequest, ""},
		{m.ing, map[string]any{"list": "product-updates", "template": "nope"}, http.StatusBadRequest, "Unknown template: nope"},
		{m.ing, map[string]any{"list": "nope", "template": "welcome"}, http.StatusNotFound, "Unknown list: nope"},
		{m.ing, map[string]any{"bucket": "nope", "template": "welcome"}, http.StatusNotFound, "Unknown bucket: nope"},
		{m.ing, map[string]any{"list": "product-updates", "template": "welcome", "scheduledAt": "tomorrow"}, http.StatusBadRequest, ""},
		{m.ing, map[string]any{"list": "product-updates", "template": "welcome", "localTime": "25:00"}, http.StatusBadRequest, ""},
	} {
		code, out, _, raw := m.call(t, http.MethodPost, "/v1/campaigns", c.key, c.body, nil)
		require.Equal(t, c.code, code, "%v: %s", c.body, raw)
		if c.error != "" {
			require.Equal(t, c.error, out["error"])
		}
		if c.code == http.StatusBadRequest && c.error == "" {
			require.NotEmpty(t, out["error"], raw)
		}
	}
	var campaigns int
	require.NoError(t, m.engine.pool.QueryRow(context.Background(), `SELECT count(*) FROM campaigns`).Scan(&campaigns))
	require.Zero(t, campaigns, "bad input changes nothing")
	// A local-time campaign waits for its first zone's nine o'clock.
	code, out, _, raw := m.call(t, http.MethodPost, "/v1/campaigns", m.ing, map[string]any{"list": "product-updates", "template": "welcome",
		"localTime": "09:00"}, nil)
	require.Equal(t, http.StatusAccepted, code, raw)
	require.Equal(t, "scheduled", out["status"])
	code, out, _, raw = m.call(t, http.MethodGet, "/v1/campaigns/"+out["campaignId"].(string), m.ing, nil, nil)
	require.Equal(t, http.StatusOK, code, raw)
	require.Equal(t, "09:00", out["localTime"])
	for _, id := range []string{"00000000-0000-4000-8000-000000000000", "not-a-uuid"} {
		code, out, _, _ := m.call(t, http.MethodGet, "/v1/campaigns/"+id, m.ing, nil, nil)
		require.Equal(t, http.StatusNotFound, code)
		require.Equal(t, "Unknown campaign: "+id, out["error"])
	}
}

func TestTheReaperRedrivesAStuckCampaignWithoutSendingTwice(t *testing.T) {
	t.Parallel()
	m := startCampaignEngine(t)
	ctx := context.Background()
	for _, a := range []string{"rd-1@example.com", "rd-2@example.com", "rd-3@example.com"} {
		code, _, _, raw := m.call(t, http.MethodPost, "/v1/lists/product-updates/subscribe", m.ing, map[string]any{"email": a}, nil)
		require.Equal(t, http.StatusOK, code, raw)
	}
	id := m.createCampaign(t, map[string]any{"list": "product-updates", "template": "welcome"}, nil)
	m.waitCampaign(t, id, "sent")
	require.EqualValues(t, 3, m.smtp.Count())

	// As if its run had died mid-way long ago: sending, no progress for 20 minutes, no cursor.
	_, err := m.engine.pool.Exec(ctx, `UPDATE campaigns SET status = 'sending', completed_at = NULL, resume_cursor = NULL,
		updated_at = now() - interval '20 minutes' WHERE id = $1`, id)
	require.NoError(t, err)
	h := m.engine.temporal.ScheduleClient().GetHandle(ctx, worker.ReaperScheduleID(m.engine.cfg.Temporal.TaskQueue))
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	waitUntil(t, "the worker to create the reaper schedule", func() bool { _, err := h.Describe(ctx); return err == nil })
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	c := m.waitCampaign(t, id, "sent")
	require.EqualValues(t, 3, c["sentCount"], "the re-run counts the recipients it finds sent")
	require.EqualValues(t, 3, m.smtp.Count(), "and sends them nothing")
}
