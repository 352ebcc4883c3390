package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

type adminEmailHandlers struct {
	m  *mailer.Mailer
	db store.DBTX
}

type emailJSON struct {
	ID             string  `json:"id"`
	JourneyStateID *string `json:"journeyStateId"`
	TemplateKey    *string `json:"templateKey"`
	ResendID       *string `json:"resendId"`
	FromEmail      string  `json:"fromEmail"`
	ToEmail        string  `json:"toEmail"`
	Subject        string  `json:"subject"`
	Category       *string `json:"category"`
	Status         string  `json:"status"`
	UserID         *string `json:"userId"`
	JourneyID      *string `json:"journeyId"`
	SentAt         *string `json:"sentAt"`
	DeliveredAt    *string `json:"deliveredAt"`
	OpenedAt       *string `json:"openedAt"`
	ClickedAt      *string `json:"clickedAt"`
	BouncedAt      *string `json:"bouncedAt"`
	ComplainedAt   *string `json:"complainedAt"`
	CreatedAt      string  `json:"createdAt"`
	UpdatedAt      string  `json:"updatedAt"`
}

func emailOf(e store.EmailSend) emailJSON {
	return emailJSON{ID: e.ID, JourneyStateID: e.JourneyStateID, TemplateKey: e.TemplateKey, ResendID: e.ResendID,
		FromEmail: e.FromEmail, ToEmail: e.ToEmail, Subject: e.Subject, Category: e.Category, Status: e.Status,
		UserID: e.UserID, JourneyID: e.JourneyID, SentAt: ptr.Map(e.SentAt, journey.Timestamp), DeliveredAt: ptr.Map(e.DeliveredAt, journey.Timestamp),
		OpenedAt: ptr.Map(e.OpenedAt, journey.Timestamp), ClickedAt: ptr.Map(e.ClickedAt, journey.Timestamp), BouncedAt: ptr.Map(e.BouncedAt, journey.Timestamp),
		ComplainedAt: ptr.Map(e.ComplainedAt, journey.Timestamp), CreatedAt: journey.Timestamp(e.CreatedAt), UpdatedAt: journey.Timestamp(e.UpdatedAt)}
}

var emailStatuses = []string{"queued", "rendered", "sent", "delivered", "opened", "clicked", "bounced", "complained", "failed"}

// emailFilter reads the filters shared by the email log and the export.
func emailFilter(c *gin.Context, v *ValidationError) store.EmailFilter {
	f := store.EmailFilter{ToEmail: c.Query("toEmail"), TemplateKey: c.Query("templateKey"), Status: c.Query("status"),
		JourneyID: c.Query("journeyId"), UserID: c.Query("userId"), Category: c.Query("category"), Engagement: c.Query("engagement")}
	if f.Status != "" && !contains(emailStatuses, f.Status) {
		v.Add("status", "invalid_enum_value", "must be one of %s", strings.Join(emailStatuses, ", "))
	}
	f.From = timeQuery(c, "from", v)
	f.To = timeQuery(c, "to", v)
	return f
}

// timeQuery reads an optional RFC 3339 date-time query parameter.
func timeQuery(c *gin.Context, name string, v *ValidationError) *time.Time {
	raw := c.Query(name)
	if raw == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		v.Add(name, "invalid_string", "must be an RFC 3339 date-time")
		return nil
	}
	return &t
}

// list is GET /v1/admin/emails.
func (h *adminEmailHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	f := emailFilter(c, v)
	if f.Engagement != "" && store.EngagementColumns[f.Engagement] == "" {
		v.Add("engagement", "invalid_enum_value", "must be one of opened, clicked, bounced, complained")
	}
	f.Sort = c.DefaultQuery("sort", "createdAt")
	if store.EmailSortColumns[f.Sort] == "" {
		v.Add("sort", "invalid_enum_value", "must be one of createdAt, sentAt, openedAt, clickedAt")
	}
	switch c.DefaultQuery("order", "desc") {
	case "asc":
		f.Asc = true
	case "desc":
	default:
		v.Add("order", "invalid_enum_value", "must be asc or desc")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	f.Limit, f.Offset = p.Limit, p.Offset
	rows, total, err := store.ListEmailSends(c.Request.Context(), h.db, f)
	if err != nil {
		return err
	}
	out := make([]emailJSON, len(rows))
	for i, r := range rows {
		out[i] = emailOf(r)
	}
	c.JSON(http.StatusOK, gin.H{"emails": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

var errEmailNotFound = &HTTPError{Status: http.StatusNotFound, Message: "Email not found"}

type timelineEvent struct {
	Type      string  `json:"type"`
	Timestamp string  `json:"timestamp"`
	URL       string  `json:"url,omitempty"`
	IPAddress *string `json:"ipAddress,omitempty"`
	UserAgent *string `json:"userAgent,omitempty"`
	at        time.Time
}

// get is GET /v1/admin/emails/:id: the send, its links and clicks, its run and its timeline.
func (h *adminEmailHandlers) get(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	e, err := store.EmailSendByID(c.Request.Context(), h.db, id)
	if errors.Is(err, store.ErrNotFound) {
		return errEmailNotFound
	}
	if err != nil {
		return err
	}
	links, err := store.TrackedLinksOf(c.Request.Context(), h.db, id)
	if err != nil {
		return err
	}
	events := []timelineEvent{{Type: "queued", at: e.CreatedAt}}
	for _, s := range []struct {
		kind string
		at   *time.Time
	}{{"sent", e.SentAt}, {"delivered", e.DeliveredAt}, {"opened", e.OpenedAt}, {"bounced", e.BouncedAt}, {"complained", e.ComplainedAt}} {
		if s.at != nil {
			events = append(events, timelineEvent{Type: s.kind, at: *s.at})
		}
	}
	if e.Status == "failed" {
		events = append(events, timelineEvent{Type: "failed", at: e.UpdatedAt})
	}
	type clickJSON struct {
		ID        string  `json:"id"`
		ClickedAt string  `json:"clickedAt"`
		IPAddress *string `json:"ipAddress"`
		UserAgent *string `json:"userAgent"`
	}
	type linkJSON struct {
		ID          string      `json:"id"`
		OriginalURL string      `json:"originalUrl"`
		ClickCount  int         `json:"clickCount"`
		Clicks      []clickJSON `json:"clicks"`
	}
	outLinks := make([]linkJSON, len(links))
	for i, l := range links {
		outLinks[i] = linkJSON{ID: l.ID, OriginalURL: l.OriginalURL, ClickCount: l.ClickCount, Clicks: []clickJSON{}}
		for _, cl := range l.Clicks {
			outLinks[i].Clicks = append(outLinks[i].Clicks, clickJSON{ID: cl.ID, ClickedAt: journey.Timestamp(cl.ClickedAt), IPAddress: cl.IPAddress, UserAgent: cl.UserAgent})
			events = append(events, timelineEvent{Type: "clicked", at: cl.ClickedAt, URL: l.OriginalURL, IPAddress: cl.IPAddress, UserAgent: cl.UserAgent})
		}
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	for i := range events {
		events[i].Timestamp = journey.Timestamp(events[i].at)
	}
	var journey any
	if e.JourneyID != nil {
		journey = gin.H{"journeyId": e.JourneyID, "userId": e.JourneyUserID, "status": e.JourneyStatus, "currentNodeId": e.JourneyNode}
	}
	c.JSON(http.StatusOK, gin.H{"email": emailOf(e), "trackedLinks": outLinks, "journeyContext": journey, "events": events})
	return nil
}

// resend is POST /v1/admin/emails/:id/resend: a failed or bounced send goes through the whole
// pipeline again (preferences checked), asynchronously and durably, under a new id.
func (h *adminEmailHandlers) resend(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	newID, err := h.m.Resend(c.Request.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errEmailNotFound
	case errors.Is(err, mailer.ErrNotResendable):
		return Errorf(http.StatusConflict, "Email is not in a resendable state")
	case errors.Is(err, mailer.ErrNoTemplate):
		return Errorf(http.StatusConflict, "Cannot resend: no template key to re-render from")
	case err != nil:
		return err
	}
	c.JSON(http.StatusAccepted, gin.H{"emailId": newID, "status": "queued"})
	return nil
}

// templates is GET /v1/admin/templates: the catalog in registration order.
func (h *adminEmailHandlers) templates(c *gin.Context) error {
	reg := h.m.Templates()
	out := []gin.H{}
	for _, k := range reg.Keys() {
		d, _ := reg.Get(k)
		out = append(out, gin.H{"key": d.Key, "defaultSubject": d.DefaultSubject, "category": ptr.NonZero(string(d.Category)), "hasPreview": d.Preview != nil})
	}
	c.JSON(http.StatusOK, gin.H{"templates": out})
	return nil
}

var errTemplateNotFound = &HTTPError{Status: http.StatusNotFound, Message: "Template not found"}

// previewProps are the props every preview and test send starts from: the template's examples
// and then the caller's override on top.
func previewProps(d email.TemplateDef, override map[string]any) email.Props {
	p := email.Props{"name": "there", "journeyName": d.Key, "eventName": d.Key,
		"body": "This is a preview of the email body.", "unsubscribeUrl": "https://example.com/unsubscribe?preview=1"}
	for k, v := range d.Examples {
		p[k] = v
	}
	for k, v := range override {
		p[k] = v
	}
	return p
}

// preview is GET /v1/admin/templates/:key/preview: render without sending (no row, no tracking).
func (h *adminEmailHandlers) preview(c *gin.Context) error {
	d, ok := h.m.Templates().Get(c.Param("key"))
	if !ok {
		return errTemplateNotFound
	}
	var override map[string]any
	if raw := c.Query("props"); raw != "" {
		if override = decodePropsParam(raw); override == nil {
			return Errorf(http.StatusBadRequest, "Invalid props: expected base64 JSON object")
		}
	}
	format := c.Query("format")
	if format != "" && format != "html" && format != "text" {
		return Invalid("format", "invalid_enum_value", "must be html or text")
	}
	r, err := h.m.Templates().Render(d.Key, previewProps(d, override))
	if err != nil {
		return Errorf(http.StatusInternalServerError, "Failed to render template: %s", err.Error())
	}
	switch format {
	case "html":
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(r.HTML))
	case "text":
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(r.Text))
	default:
		c.JSON(http.StatusOK, gin.H{"key": d.Key, "subject": r.Subject, "category": ptr.NonZero(string(r.Category)),
			"preview": ptr.NonZero(r.Preview), "html": r.HTML, "text": r.Text})
	}
	return nil
}

// decodePropsParam decodes standard or URL-safe base64 (padding optional) holding a JSON object.
func decodePropsParam(raw string) map[string]any {
	raw = strings.TrimRight(raw, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(raw); err == nil {
			var m map[string]any
			if json.Unmarshal(b, &m) == nil && m != nil {
				return m
			}
		}
	}
	return nil
}

// sendTest is POST /v1/admin/templates/:key/send-test: a real tracked send with the preview
// props, no preference check and no unsubscribe surface. It needs a full-admin API key.
type sendTestBody struct {
	To    string         `json:"to"`
	Props map[string]any `json:"props"`
}

func (h *adminEmailHandlers) sendTest(c *gin.Context) error {
	if identity(c).Scopes == nil {
		return errUnauthorized
	}
	if !apikeys.HasScope(identity(c).Scopes, apikeys.FullAdmin) {
		return errForbidden
	}
	var b sendTestBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	if !emailPattern.MatchString(b.To) {
		return Invalid("to", "invalid_string", "must be a valid email address")
	}
	d, ok := h.m.Templates().Get(c.Param("key"))
	if !ok {
		return errTemplateNotFound
	}
	category := d.Category
	if category == "" {
		category = email.CategoryTransactional
	}
	res, err := h.m.Send(c.Request.Context(), mailer.SendOptions{Template: d.Key, Props: previewProps(d, b.Props), To: b.To,
		Subject: d.DefaultSubject, Category: category, SkipPreferenceCheck: true})
	if err != nil {
		return Errorf(http.StatusInternalServerError, "Test send failed: %s", err.Error())
	}
	c.JSON(http.StatusOK, gin.H{"status": res.Status, "emailSendId": res.EmailSendID})
	return nil
}

// suppressions is GET /v1/admin/suppressions.
func (h *adminEmailHandlers) suppressions(c *gin.Context) error {
	v := &ValidationError{}
	kind := c.Query("type")
	if kind != "" && !contains([]string{store.SuppressionBounced, store.SuppressionUnsubscribed, store.SuppressionComplained}, kind) {
		v.Add("type", "invalid_enum_value", "must be one of bounced, unsubscribed, complained")
	}
	limit := intQuery(c, "limit", 50, 1, 200, v)
	offset := intQuery(c, "offset", 0, 0, 1<<31-1, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	rows, total, err := store.ListSuppressions(c.Request.Context(), h.db, kind, limit, offset)
	if err != nil {
		return err
	}
	out := make([]preferencesJSON, len(rows))
	for i, p := range rows {
		out[i] = preferences(p)
	}
	c.JSON(http.StatusOK, gin.H{"suppressions": out, "total": total, "limit": limit, "offset": offset})
	return nil
}
