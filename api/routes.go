package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/apikeys"
)

// Route is one row of the route table: what a request needs and who serves it.
type Route struct {
	Method  string
	Path    string
	Scope   apikeys.Scope // Public, Ingest, or a rung of the admin ladder
	Summary string
	handler handler
}

// Routes is the single route table. Every route is mounted from here, and the scope test walks
// it, so a route cannot be added without a tested minimum scope.
func (s *Server) Routes() []Route {
	h := &healthHandlers{s: s}
	k := &apiKeyHandlers{keys: s.cfg.Keys}
	c := &contactHandlers{svc: s.cfg.Ingest}
	ev := &eventHandlers{svc: s.cfg.Ingest}
	ac := &adminContactHandlers{svc: s.cfg.Ingest, log: s.log}
	ae := &adminEventHandlers{svc: s.cfg.Ingest}
	im := &importHandlers{svc: s.cfg.Imports}
	aj := &adminJourneyHandlers{svc: s.cfg.Journeys}
	em := &emailHandlers{m: s.cfg.Mailer, db: s.cfg.DB}
	tr := &trackingHandlers{m: s.cfg.Mailer, publicURL: s.cfg.Mailer.PublicURL()}
	pr := &preferenceHandlers{m: s.cfg.Mailer, db: s.cfg.DB, confirm: s.cfg.Email.UnsubscribeConfirm}
	am := &adminEmailHandlers{m: s.cfg.Mailer, db: s.cfg.DB}
	rp := &reportingHandlers{db: s.cfg.DB, ingest: s.cfg.Ingest}
	if s.cfg.Journeys != nil {
		rp.journeys = s.cfg.Journeys.Registry
	}
	rp.buckets = s.cfg.Buckets.Registry
	pw := &providerWebhookHandlers{m: s.cfg.Mailer, secret: s.cfg.Email.WebhookSecret}
	ab := &adminBucketHandlers{svc: s.cfg.Buckets}
	li := &listHandlers{lists: s.cfg.Mailer.Lists(), svc: s.cfg.Ingest}
	ca := &campaignHandlers{svc: s.cfg.Campaigns}
	wh := &webhookHandlers{svc: s.cfg.Webhooks}
	al := &alertHandlers{db: s.cfg.DB}
	ib := newInboundHandlers(s.cfg.Inbound, s.cfg.Ingest, s.cfg.DB, s.log)
	return []Route{
		{http.MethodGet, "/v1/health", Public, "Health verdict (always 200); components, versions and schema with a read key", h.health},
		{http.MethodGet, "/v1/health/live", Public, "Process liveness", h.live},
		{http.MethodGet, "/v1/health/ready", Public, "200 when the database is up and the schema in sync, else 503 (details with a read key)", h.ready},

		{http.MethodPut, "/v1/contacts", apikeys.Ingest, "Create or update a contact by email or userId", c.upsert},
		{http.MethodGet, "/v1/contacts/find", apikeys.Ingest, "Find contacts by email or userId", c.find},
		{http.MethodDelete, "/v1/contacts", apikeys.Ingest, "Delete contacts by email or userId", c.delete},
		{http.MethodPost, "/v1/events", apikeys.Ingest, "Ingest an event", ev.ingest},
		{http.MethodPost, "/v1/events/batch", apikeys.Ingest, "Ingest up to 500 events, each on its own", ev.batch},
		{http.MethodPost, "/v1/emails", apikeys.Ingest, "Send a transactional email (rate-limited per key)", em.send},
		{http.MethodGet, "/v1/lists", apikeys.Ingest, "The enabled lists, in registration order", li.catalog},
		{http.MethodPost, "/v1/lists/:id/subscribe", apikeys.Ingest, "Subscribe a contact (by email or userId) to a list", li.subscribe},
		{http.MethodPost, "/v1/lists/:id/unsubscribe", apikeys.Ingest, "Unsubscribe a contact from a list", li.unsubscribe},
		{http.MethodPost, "/v1/campaigns", apikeys.Ingest, "Send a template to a list or a bucket (durable; 202 at once)", ca.create},
		{http.MethodGet, "/v1/campaigns/:id", apikeys.Ingest, "A campaign's status and counts", ca.get},
		{http.MethodPost, "/v1/campaigns/:id/pause", apikeys.Ingest, "Pause a campaign after its page in flight", ca.pause},
		{http.MethodPost, "/v1/campaigns/:id/resume", apikeys.Ingest, "Resume a paused campaign", ca.resume},
		{http.MethodPost, "/v1/campaigns/:id/cancel", apikeys.Ingest, "Cancel a campaign that has not finished", ca.cancel},

		{http.MethodGet, "/v1/t/o/:id", Public, "Open pixel", tr.open},
		{http.MethodGet, "/v1/t/c/:id", Public, "Click redirect", tr.click},
		{http.MethodGet, "/v1/email/unsubscribe", Public, "Unsubscribe or resubscribe (signed token)", pr.unsubscribe},
		{http.MethodPost, "/v1/email/unsubscribe", Public, "RFC 8058 one-click unsubscribe (signed token)", pr.unsubscribe},
		{http.MethodGet, "/v1/email/preferences", Public, "Preference center (signed token)", pr.preferences},
		{http.MethodPost, "/v1/webhooks/resend", Public, "Resend delivery-status events (Svix-signed)", pw.resend},
		{http.MethodPost, inboundPath, Public, "A provider's webhook to a registered source (Clerk, Supabase, Stripe, Segment, the app's own), ingested as one event", ib.receive},

		{http.MethodGet, "/v1/admin/contacts", apikeys.Read, "List and search contacts", ac.list},
		{http.MethodPost, "/v1/admin/contacts", apikeys.FullAdmin, "Create or upsert a contact", ac.create},
		{http.MethodGet, "/v1/admin/contacts/export", apikeys.FullAdmin, "Export contacts as JSON or CSV", ac.export},
		{http.MethodPost, "/v1/admin/contacts/import", apikeys.FullAdmin, "Import contacts from CSV or JSON (a workflow)", im.start},
		{http.MethodGet, "/v1/admin/contacts/import/:jobId", apikeys.Read, "Progress of an import", im.get},
		{http.MethodGet, "/v1/admin/contacts/:id", apikeys.Read, "Contact by id or external id, with preferences", ac.get},
		{http.MethodPatch, "/v1/admin/contacts/:id", apikeys.FullAdmin, "Update a contact", ac.patch},
		{http.MethodDelete, "/v1/admin/contacts/:id", apikeys.FullAdmin, "Delete a contact", ac.delete},
		{http.MethodGet, "/v1/admin/contacts/:id/preferences", apikeys.Read, "Email preferences of a contact", ac.getPreferences},
		{http.MethodPut, "/v1/admin/contacts/:id/preferences", apikeys.FullAdmin, "Update email preferences", ac.putPreferences},
		{http.MethodGet, "/v1/admin/contacts/:id/timeline", apikeys.Read, "Events, journeys and emails of a contact", ac.timeline},
		{http.MethodGet, "/v1/admin/events", apikeys.Read, "List events", ae.list},
		{http.MethodPost, "/v1/admin/events", apikeys.JourneyAdmin, "Ingest a test event", ae.debug},
		{http.MethodPost, "/v1/admin/events/replay", apikeys.FullAdmin, "Replay stored events", ae.replay},
		{http.MethodGet, "/v1/admin/events/:id", apikeys.Read, "Event detail", ae.get},

		{http.MethodGet, "/v1/admin/journeys", apikeys.Read, "Journeys with state counts", aj.list},
		{http.MethodGet, "/v1/admin/journeys/:id", apikeys.Read, "Journey detail with recent runs", aj.get},
		{http.MethodPatch, "/v1/admin/journeys/:id", apikeys.JourneyAdmin, "Enable or disable a journey", aj.setEnabled},
		{http.MethodPut, "/v1/admin/journeys/:id", apikeys.JourneyAdmin, "Enable or disable a journey (alias of PATCH)", aj.setEnabled},
		{http.MethodGet, "/v1/admin/journeys/:id/states", apikeys.Read, "Runs of a journey", aj.states},
		{http.MethodGet, "/v1/admin/journeys/:id/states/:stateId", apikeys.Read, "A run with its logs", aj.state},
		{http.MethodDelete, "/v1/admin/journeys/:id/states/:stateId", apikeys.JourneyAdmin, "Cancel a run", aj.cancel},
		{http.MethodPost, "/v1/admin/journeys/:id/enroll", apikeys.JourneyAdmin, "Enroll a user (ingests the trigger event)", aj.enroll},
		{http.MethodPost, "/v1/admin/journeys/:id/enroll/batch", apikeys.JourneyAdmin, "Enroll up to 500 users", aj.enrollBatch},
		{http.MethodGet, "/v1/admin/journey-logs/:stateId", apikeys.Read, "Log of a run", aj.state},

		{http.MethodGet, "/v1/admin/buckets", apikeys.Read, "Buckets with their switches and member counts", ab.list},
		{http.MethodGet, "/v1/admin/buckets/:id", apikeys.Read, "A bucket: criteria, the journeys it feeds, newest members", ab.get},
		{http.MethodPatch, "/v1/admin/buckets/:id", apikeys.JourneyAdmin, "Switch a bucket on or off (members stay)", ab.setEnabled},
		{http.MethodGet, "/v1/admin/buckets/:id/members", apikeys.Read, "Members of a bucket (active or left)", ab.members},

		{http.MethodGet, "/v1/admin/campaigns", apikeys.Read, "Campaigns with their progress, newest first", ca.list},

		{http.MethodGet, "/v1/admin/emails", apikeys.Read, "Email log (filters, sort, paging)", am.list},
		{http.MethodGet, "/v1/admin/emails/:id", apikeys.Read, "A send with its timeline, links and clicks", am.get},
		{http.MethodPost, "/v1/admin/emails/:id/resend", apikeys.FullAdmin, "Send a failed or bounced email again", am.resend},
		{http.MethodGet, "/v1/admin/templates", apikeys.Read, "Template catalog", am.templates},
		{http.MethodGet, "/v1/admin/templates/:key/preview", apikeys.Read, "Render a template (json, html or text)", am.preview},
		{http.MethodPost, "/v1/admin/templates/:key/send-test", apikeys.FullAdmin, "Send a test email (full-admin API key)", am.sendTest},
		{http.MethodGet, "/v1/admin/suppressions", apikeys.Read, "Bounced, unsubscribed and complained recipients", am.suppressions},

		{http.MethodGet, "/v1/admin/metrics/overview", apikeys.Read, "Headline numbers", rp.overview},
		{http.MethodGet, "/v1/admin/metrics/journeys", apikeys.Read, "Per-journey runs and completion", rp.journeyList},
		{http.MethodGet, "/v1/admin/metrics/journeys/:id", apikeys.Read, "A journey's funnel", rp.journeyFunnel},
		{http.MethodGet, "/v1/admin/metrics/emails", apikeys.Read, "Per-template engagement and rates", rp.emails},
		{http.MethodGet, "/v1/admin/metrics/emails/deliverability", apikeys.Read, "Deliverability series", rp.deliverability},
		{http.MethodGet, "/v1/admin/metrics/buckets", apikeys.Read, "Per-bucket size, joins, leaves and average dwell", rp.bucketList},
		{http.MethodGet, "/v1/admin/metrics/buckets/:id", apikeys.Read, "A bucket's size and joins/leaves per period", rp.bucketTrend},
		{http.MethodGet, "/v1/admin/metrics/events", apikeys.Read, "Event volume series", rp.events},
		{http.MethodGet, "/v1/admin/reporting/templates/:key", apikeys.Read, "A template's totals and series", rp.template},
		{http.MethodGet, "/v1/admin/reporting/contacts/:id/activity", apikeys.Read, "A contact's sends with engagement", rp.contactActivity},
		{http.MethodGet, "/v1/admin/reporting/sends/export", apikeys.FullAdmin, "Sends as CSV (at most 50,000)", rp.exportSends},

		{http.MethodGet, "/v1/admin/webhooks", apikeys.FullAdmin, "Outbound webhook endpoints, newest first", wh.list},
		{http.MethodPost, "/v1/admin/webhooks", apikeys.FullAdmin, "Create an endpoint (its secret is shown once)", wh.create},
		{http.MethodGet, "/v1/admin/webhooks/:id", apikeys.FullAdmin, "An endpoint", wh.get},
		{http.MethodPatch, "/v1/admin/webhooks/:id", apikeys.FullAdmin, "Change an endpoint's URL, events, description or switch", wh.update},
		{http.MethodDelete, "/v1/admin/webhooks/:id", apikeys.FullAdmin, "Delete an endpoint with its deliveries", wh.delete},
		{http.MethodPost, "/v1/admin/webhooks/:id/rotate-secret", apikeys.FullAdmin, "Replace an endpoint's secret (shown once)", wh.rotate},
		{http.MethodPost, "/v1/admin/webhooks/:id/test", apikeys.FullAdmin, "Send a webhook.test event to an endpoint", wh.test},
		{http.MethodGet, "/v1/admin/webhooks/:id/deliveries", apikeys.FullAdmin, "An endpoint's deliveries, newest first", wh.deliveries},
		{http.MethodPost, "/v1/admin/webhooks/:id/deliveries/:deliveryId/redeliver", apikeys.FullAdmin, "Send a delivery again (same Webhook-Id)", wh.redeliver},
		{http.MethodGet, "/v1/admin/dlq", apikeys.FullAdmin, "Dead letters, newest first", wh.dlqList},
		{http.MethodPost, "/v1/admin/dlq/:id/retry", apikeys.FullAdmin, "Retry a dead letter (a webhook delivery is sent again)", wh.dlqRetry},
		{http.MethodDelete, "/v1/admin/dlq/:id", apikeys.FullAdmin, "Discard a dead letter", wh.dlqDiscard},

		{http.MethodGet, "/v1/admin/alerts/rules", apikeys.Read, "Alert rules, newest first", al.list},
		{http.MethodPost, "/v1/admin/alerts/rules", apikeys.FullAdmin, "Create an alert rule (enabled)", al.create},
		{http.MethodPatch, "/v1/admin/alerts/rules/:id", apikeys.FullAdmin, "Change an alert rule's name, threshold, channel settings, switch or cooldown", al.update},
		{http.MethodDelete, "/v1/admin/alerts/rules/:id", apikeys.FullAdmin, "Delete an alert rule with its history", al.remove},
		{http.MethodGet, "/v1/admin/alerts/history", apikeys.Read, "Alert notifications, newest first (ruleId, from, to)", al.history},
		{http.MethodGet, "/v1/admin/audit-logs", apikeys.Read, "Audited admin mutations, newest first (filters, paging)", s.auditLogs},

		{http.MethodGet, "/v1/admin/api-keys", apikeys.Read, "List API keys", k.list},
		{http.MethodPost, "/v1/admin/api-keys", apikeys.FullAdmin, "Create an API key (shown once)", k.create},
		{http.MethodDelete, "/v1/admin/api-keys/:id", apikeys.FullAdmin, "Revoke an API key", k.revoke},
		{http.MethodPost, "/v1/admin/api-keys/:id/rotate", apikeys.FullAdmin, "Replace an API key with a new one", k.rotate},
	}
}

func (s *Server) mount(e *gin.Engine) {
	for _, r := range s.Routes() {
		chain := []gin.HandlerFunc{}
		switch {
		case r.Scope != Public:
			chain = append(chain, s.requireScope(r.Scope))
		// Probes are not limited, nor are inbound sources: providers burst from few addresses
		// and retry what is refused, and a bad signature costs one HMAC.
		case s.publicLimit != nil && !strings.HasPrefix(r.Path, "/v1/health") && r.Path != inboundPath:
			chain = append(chain, s.rateLimit(s.publicLimit, byClientIP))
		}
		if r.Method == http.MethodPost && r.Path == "/v1/emails" && s.emailLimit != nil {
			chain = append(chain, s.rateLimit(s.emailLimit, byAPIKey))
		}
		if strings.HasPrefix(r.Path, adminPrefix) {
			if s.adminLimit != nil {
				chain = append(chain, s.rateLimit(s.adminLimit, byAPIKey))
			}
			if audited(r.Method) {
				chain = append(chain, s.audit)
			}
		}
		chain = append(chain, s.wrap(r.handler))
		e.Handle(r.Method, r.Path, chain...)
	}
}
