package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/invopop/jsonschema"

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/internal/mailer"
)

// The OpenAPI document is generated from the route table, so a route cannot be mounted
// without being documented: path, method, summary, scope, the tag its path gives, the request
// body's type (reflected into JSON Schema 2020-12, which OpenAPI 3.1 uses as is) and the reply's.

// errorBody is every error's shape.
type errorBody struct {
	Error   string  `json:"error"`
	Success *bool   `json:"success,omitempty"` // false on validation errors
	Issues  []Issue `json:"issues,omitempty"`
}

// requestBodies are the JSON bodies the routes bind, by "METHOD path". The OpenAPI test
// requires an entry (or a place in bodiless) for every POST, PUT and PATCH.
var requestBodies = map[string]any{
	"PUT /v1/contacts":                         upsertContactBody{},
	"DELETE /v1/contacts":                      deleteContactBody{},
	"POST /v1/events":                          eventBody{},
	"POST /v1/events/batch":                    batchBody{},
	"POST /v1/emails":                          sendBody{},
	"POST /v1/lists/:id/subscribe":             listMemberBody{},
	"POST /v1/lists/:id/unsubscribe":           listMemberBody{},
	"POST /v1/campaigns":                       createCampaignBody{},
	"POST /v1/admin/contacts":                  createContactBody{},
	"POST /v1/admin/contacts/import":           importBody{},
	"PATCH /v1/admin/contacts/:id":             patchContactBody{},
	"PUT /v1/admin/contacts/:id/preferences":   preferencesBody{},
	"POST /v1/admin/events":                    debugEventBody{},
	"POST /v1/admin/events/replay":             replayBody{},
	"PATCH /v1/admin/journeys/:id":             switchBody{},
	"PUT /v1/admin/journeys/:id":               switchBody{},
	"POST /v1/admin/journeys/:id/enroll":       journeys.EnrollUser{},
	"POST /v1/admin/journeys/:id/enroll/batch": enrollBatchBody{},
	"PATCH /v1/admin/buckets/:id":              switchBody{},
	"POST /v1/admin/templates/:key/send-test":  sendTestBody{},
	"POST /v1/admin/webhooks":                  endpointBody{},
	"PATCH /v1/admin/webhooks/:id":             endpointBody{},
	"POST /v1/admin/alerts/rules":              alertRuleBody{},
	"PATCH /v1/admin/alerts/rules/:id":         alertRuleBody{},
	"POST /v1/admin/api-keys":                  createKeyBody{},
}

// pageJSON is the paging of a list answer.
type pageJSON struct {
	Total  int `json:"total"`
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// Acknowledgements: the one-field answers of deletes and actions.
type (
	deletedReply struct {
		Deleted bool `json:"deleted"`
	}
	revokedReply struct {
		Revoked bool `json:"revoked"`
	}
	retriedReply struct {
		Retried bool `json:"retried"`
	}
	discardedReply struct {
		Discarded bool `json:"discarded"`
	}
	okReply struct {
		OK bool `json:"ok"`
	}
)

// inboundReply is POST /v1/webhooks/{sourceId}'s answer: the event ingested, or skipped.
type inboundReply struct {
	OK      bool                `json:"ok"`
	Event   string              `json:"event,omitempty"`
	UserID  string              `json:"userId,omitempty"`
	Exits   []ingest.ExitResult `json:"exits,omitempty"`
	Skipped bool                `json:"skipped,omitempty"`
}

// switchReply answers an admin on/off switch.
type switchReply struct {
	Journey struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Enabled   bool   `json:"enabled"`
		UpdatedAt string `json:"updatedAt"`
	} `json:"journey"`
}

// runReply is a journey run with its logs.
type runReply struct {
	State map[string]any `json:"state"`
	Logs  objects        `json:"logs"`
}

// objects are items described as JSON objects only.
type objects = []map[string]any

// Documented answers, by "METHOD path": the typed ones (the others are described in words).
var replyBodies = map[string]any{
	"GET /v1/health":               healthJSON{},
	"POST /v1/admin/events":        eventResponse{},
	"POST /v1/admin/events/replay": ingest.ReplayResult{},
	"GET /v1/health/live": struct {
		Status string `json:"status"`
	}{},
	"GET /v1/admin/contacts/import/:jobId": struct {
		ID            string `json:"id"`
		Status        string `json:"status"`
		TotalRows     int    `json:"totalRows"`
		ProcessedRows int    `json:"processedRows"`
		FailedRows    int    `json:"failedRows"`
		Errors        []any  `json:"errors"`
		CreatedAt     string `json:"createdAt"`
		UpdatedAt     string `json:"updatedAt"`
	}{},
	"GET /v1/admin/contacts/:id/timeline": struct {
		Timeline objects `json:"timeline"`
		pageJSON
	}{},
	"GET /v1/admin/journeys": struct {
		Journeys objects `json:"journeys"`
		pageJSON
	}{},
	"GET /v1/admin/journeys/:id": struct {
		Journey map[string]any `json:"journey"`
	}{},
	"PATCH /v1/admin/journeys/:id": switchReply{},
	"PUT /v1/admin/journeys/:id":   switchReply{},
	"GET /v1/admin/journeys/:id/states": struct {
		States objects `json:"states"`
		pageJSON
	}{},
	"GET /v1/admin/journeys/:id/states/:stateId": runReply{},
	"GET /v1/admin/journey-logs/:stateId":        runReply{},
	"DELETE /v1/admin/journeys/:id/states/:stateId": struct {
		State             map[string]any `json:"state"`
		WorkflowCancelled bool           `json:"workflowCancelled"`
		HatchetCancelled  bool           `json:"hatchetCancelled"`
	}{},
	"POST /v1/admin/journeys/:id/enroll": struct {
		Enrolled bool   `json:"enrolled"`
		Event    string `json:"event"`
		UserID   string `json:"userId"`
	}{},
	"POST /v1/admin/journeys/:id/enroll/batch": struct {
		Enrolled int     `json:"enrolled"`
		Skipped  int     `json:"skipped"`
		Results  objects `json:"results"`
	}{},
	"GET /v1/admin/buckets": struct {
		Buckets objects `json:"buckets"`
		pageJSON
	}{},
	"GET /v1/admin/buckets/:id": struct {
		Bucket map[string]any `json:"bucket"`
	}{},
	"PATCH /v1/admin/buckets/:id": struct {
		Bucket map[string]any `json:"bucket"`
	}{},
	"GET /v1/admin/buckets/:id/members": struct {
		Members objects `json:"members"`
		pageJSON
	}{},
	"GET /v1/admin/emails/:id": struct {
		Email          emailJSON      `json:"email"`
		TrackedLinks   objects        `json:"trackedLinks"`
		JourneyContext map[string]any `json:"journeyContext"`
		Events         objects        `json:"events"`
	}{},
	"POST /v1/admin/emails/:id/resend": struct {
		EmailID string `json:"emailId"`
		Status  string `json:"status"`
	}{},
	"GET /v1/admin/templates": struct {
		Templates objects `json:"templates"`
	}{},
	"GET /v1/admin/templates/:key/preview": struct {
		Key      string  `json:"key"`
		Subject  string  `json:"subject"`
		Category *string `json:"category"`
		Preview  *string `json:"preview"`
		HTML     string  `json:"html"`
		Text     string  `json:"text"`
	}{},
	"POST /v1/admin/templates/:key/send-test": mailer.Result{},
	"GET /v1/admin/suppressions": struct {
		Suppressions objects `json:"suppressions"`
		pageJSON
	}{},
	"GET /v1/admin/metrics/overview": struct {
		TotalContacts   int     `json:"totalContacts"`
		ActiveJourneys  int     `json:"activeJourneys"`
		ActiveBuckets   int     `json:"activeBuckets"`
		BucketMembers   int     `json:"bucketMembers"`
		EmailsSent24h   int     `json:"emailsSent24h"`
		EmailsSent7d    int     `json:"emailsSent7d"`
		EmailsSent30d   int     `json:"emailsSent30d"`
		BounceRate30d   float64 `json:"bounceRate30d"`
		UnsubscribeRate float64 `json:"unsubscribeRate"`
	}{},
	"GET /v1/admin/metrics/journeys": struct {
		Journeys objects `json:"journeys"`
	}{},
	"GET /v1/admin/metrics/journeys/:id": struct {
		JourneyID    string `json:"journeyId"`
		Enrolled     int    `json:"enrolled"`
		EmailSent    int    `json:"emailSent"`
		EmailOpened  int    `json:"emailOpened"`
		EmailClicked int    `json:"emailClicked"`
		Completed    int    `json:"completed"`
		Failed       int    `json:"failed"`
		Exited       int    `json:"exited"`
	}{},
	"GET /v1/admin/metrics/emails": struct {
		Templates objects `json:"templates"`
	}{},
	"GET /v1/admin/metrics/emails/deliverability": struct {
		Period string  `json:"period"`
		Points objects `json:"points"`
	}{},
	"GET /v1/admin/metrics/buckets": struct {
		Buckets objects `json:"buckets"`
	}{},
	"GET /v1/admin/metrics/buckets/:id": struct {
		BucketID string  `json:"bucketId"`
		Size     int     `json:"size"`
		Points   objects `json:"points"`
	}{},
	"GET /v1/admin/metrics/events": struct {
		Events objects `json:"events"`
	}{},
	"GET /v1/admin/reporting/templates/:key": map[string]any{},
	"GET /v1/admin/reporting/contacts/:id/activity": struct {
		Contact map[string]any `json:"contact"`
		Sends   objects        `json:"sends"`
		pageJSON
	}{},
	"DELETE /v1/contacts":               deletedReply{},
	"DELETE /v1/admin/contacts/:id":     deletedReply{},
	"DELETE /v1/admin/webhooks/:id":     deletedReply{},
	"DELETE /v1/admin/alerts/rules/:id": deletedReply{},
	"DELETE /v1/admin/api-keys/:id":     revokedReply{},
	"POST /v1/admin/dlq/:id/retry":      retriedReply{},
	"DELETE /v1/admin/dlq/:id":          discardedReply{},
	"POST /v1/webhooks/resend":          okReply{},
	"POST " + inboundPath:               inboundReply{},
	"POST /v1/admin/webhooks/:id/rotate-secret": struct {
		ID           string `json:"id"`
		Secret       string `json:"secret"`
		SecretPrefix string `json:"secretPrefix"`
	}{},
	"POST /v1/admin/webhooks/:id/test": struct {
		Enqueued  bool   `json:"enqueued"`
		EventType string `json:"eventType"`
	}{},
	"POST /v1/admin/webhooks/:id/deliveries/:deliveryId/redeliver": struct {
		Enqueued   bool   `json:"enqueued"`
		DeliveryID string `json:"deliveryId"`
	}{},
	"POST /v1/admin/contacts/import": struct {
		JobID  string `json:"jobId"`
		Status string `json:"status"`
	}{},
	"GET /v1/admin/events": struct {
		Events []eventReply `json:"events"`
		pageJSON
	}{},
	"GET /v1/admin/events/:id": struct {
		Event eventReply `json:"event"`
	}{},
	"GET /v1/admin/contacts": struct {
		Contacts []adminContactJSON `json:"contacts"`
		pageJSON
	}{},
	"POST /v1/admin/contacts": struct {
		Contact adminContactJSON `json:"contact"`
	}{},
	"GET /v1/admin/contacts/:id": struct {
		Contact     adminContactJSON `json:"contact"`
		Preferences *preferencesJSON `json:"preferences"`
	}{},
	"GET /v1/admin/webhooks/:id/deliveries": struct {
		Deliveries []deliveryReply `json:"deliveries"`
		pageJSON
	}{},
	"GET /v1/admin/dlq": struct {
		Entries []deadLetterReply `json:"entries"`
		pageJSON
	}{},
	"GET /v1/admin/webhooks": struct {
		Endpoints []endpointReply `json:"endpoints"`
		pageJSON
	}{},
	"POST /v1/admin/webhooks":        endpointReply{},
	"GET /v1/admin/webhooks/:id":     endpointReply{},
	"PATCH /v1/admin/webhooks/:id":   endpointReply{},
	"PUT /v1/contacts":               upsertReply{},
	"GET /v1/contacts/find":          findReply{},
	"POST /v1/events":                eventResponse{},
	"POST /v1/events/batch":          batchReply{},
	"POST /v1/emails":                mailer.Result{},
	"GET /v1/lists":                  catalogReply{},
	"POST /v1/lists/:id/subscribe":   memberReply{},
	"POST /v1/lists/:id/unsubscribe": memberReply{},
	"POST /v1/campaigns":             campaignStateReply{},
	"GET /v1/campaigns/:id":          campaignReply{},
	"POST /v1/campaigns/:id/pause":   campaignStateReply{},
	"POST /v1/campaigns/:id/resume":  campaignStateReply{},
	"POST /v1/campaigns/:id/cancel":  campaignStateReply{},
	"GET /v1/admin/campaigns": struct {
		Campaigns []campaignReply `json:"campaigns"`
		pageJSON
	}{},
	"GET /v1/health/ready": healthJSON{},
	"GET /v1/admin/api-keys": struct {
		Keys []apiKeyJSON `json:"keys"`
		pageJSON
	}{},
	"POST /v1/admin/api-keys":            createdKeyJSON{},
	"POST /v1/admin/api-keys/:id/rotate": createdKeyJSON{},
	"GET /v1/admin/alerts/rules": struct {
		Rules []alertRuleJSON `json:"rules"`
		pageJSON
	}{},
	"POST /v1/admin/alerts/rules": struct {
		Rule alertRuleJSON `json:"rule"`
	}{},
	"PATCH /v1/admin/alerts/rules/:id": struct {
		Rule alertRuleJSON `json:"rule"`
	}{},
	"GET /v1/admin/alerts/history": struct {
		History []alertHistoryJSON `json:"history"`
		pageJSON
	}{},
	"GET /v1/admin/audit-logs": struct {
		Logs []auditJSON `json:"logs"`
		pageJSON
	}{},
	"GET /v1/admin/emails": struct {
		Emails []emailJSON `json:"emails"`
		pageJSON
	}{},
	"GET /v1/admin/contacts/:id/preferences": struct {
		Preferences preferencesJSON `json:"preferences"`
	}{},
	"PUT /v1/admin/contacts/:id/preferences": struct {
		Preferences preferencesJSON `json:"preferences"`
	}{},
	"PATCH /v1/admin/contacts/:id": struct {
		Contact adminContactJSON `json:"contact"`
	}{},
}

// replyMedia are the answers that are not JSON, by "METHOD path".
var replyMedia = map[string][]string{
	"GET /v1/t/o/:id":                      {"image/gif"},
	"GET /v1/email/unsubscribe":            {"text/html"},
	"POST /v1/email/unsubscribe":           {"text/html"},
	"GET /v1/email/preferences":            {"text/html"},
	"GET /v1/admin/contacts/export":        {"text/csv", "application/json"},
	"GET /v1/admin/reporting/sends/export": {"text/csv"},
}

// bodiless are the POST routes that read no JSON body of their own: actions named by their
// path, form posts, and provider webhooks verified over their raw bytes.
var bodiless = []string{
	"POST /v1/campaigns/:id/pause", "POST /v1/campaigns/:id/resume", "POST /v1/campaigns/:id/cancel",
	"POST /v1/email/unsubscribe", "POST /v1/webhooks/resend", "POST " + inboundPath,
	"POST /v1/admin/emails/:id/resend", "POST /v1/admin/webhooks/:id/rotate-secret", "POST /v1/admin/webhooks/:id/test",
	"POST /v1/admin/webhooks/:id/deliveries/:deliveryId/redeliver", "POST /v1/admin/dlq/:id/retry",
	"POST /v1/admin/api-keys/:id/rotate",
}

// tagOf names a route's group: the first path segment after /v1 (and /admin).
func tagOf(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	if segs[0] == "admin" && len(segs) > 1 {
		segs = segs[1:]
	}
	switch segs[0] {
	case "t":
		return "tracking"
	case "email":
		return "email-links"
	case "journey-logs":
		return "journeys"
	}
	return segs[0]
}

var pathParam = regexp.MustCompile(`:([A-Za-z]+)`)

// schemaOf reflects a Go value's type into an inline JSON Schema.
func schemaOf(v any) map[string]any {
	// Presence is not promised: no field is claimed to be required.
	r := &jsonschema.Reflector{DoNotReference: true, ExpandedStruct: true, AllowAdditionalProperties: true, RequiredFromJSONSchemaTags: true}
	raw, err := json.Marshal(r.ReflectFromType(reflect.TypeOf(v)))
	if err != nil {
		panic("api: cannot reflect " + reflect.TypeOf(v).String() + ": " + err.Error()) // a programming error
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	delete(out, "$schema")
	delete(out, "$id")
	allowNulls(reflect.TypeOf(v), out)
	return out
}

// allowNulls marks the properties of pointer fields as also null, which the reflector does not:
// a nil pointer encodes as null.
func allowNulls(t reflect.Type, s map[string]any) {
	for k := t.Kind(); k == reflect.Pointer || k == reflect.Slice || k == reflect.Array || k == reflect.Map; k = t.Kind() {
		switch k {
		case reflect.Slice, reflect.Array:
			if items, ok := s["items"].(map[string]any); ok {
				s = items
			}
		case reflect.Map:
			if values, ok := s["additionalProperties"].(map[string]any); ok {
				s = values
			}
		}
		t = t.Elem()
	}
	props, ok := s["properties"].(map[string]any)
	if t.Kind() != reflect.Struct || !ok {
		return
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" {
			allowNulls(f.Type, s)
			continue
		}
		prop, ok := props[name].(map[string]any)
		if !ok || !f.IsExported() {
			continue
		}
		allowNulls(f.Type, prop)
		if f.Type.Kind() == reflect.Pointer {
			props[name] = map[string]any{"oneOf": []any{prop, map[string]any{"type": "null"}}}
		}
	}
}

func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// OpenAPI builds the OpenAPI 3.1 document of the route table.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]map[string]any{}
	tags := map[string]bool{}
	errors := map[string]any{"description": "Error", "content": jsonContent(map[string]any{"$ref": "#/components/schemas/Error"})}
	for _, r := range s.Routes() {
		path := pathParam.ReplaceAllString(r.Path, "{$1}")
		tag := tagOf(r.Path)
		tags[tag] = true
		op := map[string]any{
			"summary":         r.Summary,
			"tags":            []string{tag},
			"operationId":     strings.ToLower(r.Method) + strings.NewReplacer("/", "_", ":", "", "-", "_").Replace(r.Path),
			"x-hogsend-scope": cmpScope(r),
		}
		if r.Scope != Public {
			op["security"] = []map[string][]string{{"bearer": {}}}
		}
		var params []map[string]any
		for _, m := range pathParam.FindAllStringSubmatch(r.Path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		if body, ok := requestBodies[r.Method+" "+r.Path]; ok {
			op["requestBody"] = map[string]any{"required": true, "content": jsonContent(schemaOf(body))}
		}
		ok := map[string]any{"description": r.Summary}
		key := r.Method + " " + r.Path
		if reply, has := replyBodies[key]; has {
			ok["content"] = jsonContent(schemaOf(reply))
		}
		if media, has := replyMedia[key]; has {
			content := map[string]any{}
			for _, m := range media {
				content[m] = map[string]any{"schema": map[string]any{"type": "string"}}
			}
			ok["content"] = content
		}
		op["responses"] = map[string]any{"2XX": ok, "4XX": errors, "5XX": errors}
		if key == "GET /v1/t/c/:id" { // a redirect, not a body
			op["responses"] = map[string]any{"302": map[string]any{"description": "Redirect to the link's destination (the public URL for an unknown link)"}}
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(r.Method)] = op
	}
	var tagList []map[string]string
	for _, t := range slices.Sorted(maps.Keys(tags)) {
		tagList = append(tagList, map[string]string{"name": t})
	}
	return map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
		"info": map[string]any{"title": "Hogsend engine API", "version": APIVersion,
			"description": "Lifecycle email engine: ingest, contacts, email, lists, campaigns, webhooks, admin and reporting."},
		"servers": []map[string]string{{"url": s.cfg.Mailer.PublicURL()}},
		"paths":   paths,
		"tags":    tagList,
		"components": map[string]any{
			"schemas":         map[string]any{"Error": schemaOf(errorBody{})},
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An hsk_ API key, or ADMIN_API_KEY"}},
		},
	}
}

func cmpScope(r Route) string {
	if r.Scope == Public {
		return "public"
	}
	return string(r.Scope)
}

// docsPage renders the document with Scalar's API reference, loaded from its CDN by the browser.
const docsPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Hogsend API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><script id="api-reference" data-url="/openapi.json"></script>
<script src="https://cdn.jsdelivr.net/npm/@scalar/api-reference@1"></script></body></html>`

// mountDocs serves GET /openapi.json and GET /docs (outside production).
func (s *Server) mountDocs(e *gin.Engine) {
	var once sync.Once
	var doc []byte
	e.GET("/openapi.json", func(c *gin.Context) {
		once.Do(func() { doc, _ = json.Marshal(s.OpenAPI()) })
		c.Data(http.StatusOK, "application/json; charset=utf-8", doc)
	})
	e.GET("/docs", func(c *gin.Context) { c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(docsPage)) })
}
