package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Metrics and reporting: counts come from set-based queries in store; the rate math lives here.

type reportingHandlers struct {
	db       store.DBTX
	ingest   *ingest.Service
	journeys *journey.Registry
	buckets  *bucket.Registry
}

// rate is num/den rounded half up to 4 decimals, 0 when den is 0 (integer math: no float
// rounding surprises such as 0.5 → 0.4999).
func rate(num, den int) float64 {
	if den <= 0 {
		return 0
	}
	return float64((int64(num)*20000+int64(den))/(int64(den)*2)) / 10000
}

type rates struct {
	DeliveryRate        float64 `json:"deliveryRate"`
	OpenRate            float64 `json:"openRate"`
	ClickRate           float64 `json:"clickRate"`
	ClickToDeliveryRate float64 `json:"clickToDeliveryRate"`
}

// ratesOf applies the spec's rate definitions; opens fall back to sends when nothing reports
// deliveries (SMTP and sink deployments).
func ratesOf(c store.EngagementCounts) rates {
	openBase := c.Delivered
	if openBase == 0 {
		openBase = c.Sent
	}
	return rates{DeliveryRate: rate(c.Delivered, c.Sent), OpenRate: rate(c.Opened, openBase),
		ClickRate: rate(c.Clicked, c.Opened), ClickToDeliveryRate: rate(c.Clicked, c.Delivered)}
}

func (h *reportingHandlers) overview(c *gin.Context) error {
	o, err := store.LoadOverview(c.Request.Context(), h.db)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"totalContacts": o.TotalContacts, "activeJourneys": o.ActiveJourneys, "activeBuckets": o.ActiveBuckets,
		"bucketMembers": o.BucketMembers, "emailsSent24h": o.Sent24h, "emailsSent7d": o.Sent7d, "emailsSent30d": o.Sent30d,
		"bounceRate30d": rate(o.Bounced30d, o.Sent30d), "unsubscribeRate": rate(o.UnsubscribedAll, o.PreferenceRows)})
	return nil
}

// window reads from/to (RFC 3339, inclusive).
func window(c *gin.Context, v *ValidationError) store.Window {
	return store.Window{From: timeQuery(c, "from", v), To: timeQuery(c, "to", v)}
}

// unitQuery reads a date_trunc unit from a whitelist, with a default.
func unitQuery(c *gin.Context, name, def string, allowed []string, v *ValidationError) string {
	u := c.DefaultQuery(name, def)
	if !contains(allowed, u) {
		v.Add(name, "invalid_enum_value", "must be one of %s", strings.Join(allowed, ", "))
	}
	return u
}

func (h *reportingHandlers) emails(c *gin.Context) error {
	v := &ValidationError{}
	w := window(c, v)
	all := boolQuery(c, "includeUntemplated", v)
	if err := v.OrNil(); err != nil {
		return err
	}
	groups, err := store.EngagementByTemplate(c.Request.Context(), h.db, w, all)
	if err != nil {
		return err
	}
	type row struct {
		TemplateKey string `json:"templateKey"`
		Sent        int    `json:"sent"`
		Delivered   int    `json:"delivered"`
		Opened      int    `json:"opened"`
		Clicked     int    `json:"clicked"`
		Bounced     int    `json:"bounced"`
		rates
	}
	out := make([]row, len(groups))
	for i, g := range groups {
		key := "(none)"
		if g.TemplateKey != nil {
			key = *g.TemplateKey
		}
		out[i] = row{TemplateKey: key, Sent: g.Sent, Delivered: g.Delivered, Opened: g.Opened, Clicked: g.Clicked, Bounced: g.Bounced, rates: ratesOf(g.EngagementCounts)}
	}
	c.JSON(http.StatusOK, gin.H{"templates": out})
	return nil
}

func (h *reportingHandlers) deliverability(c *gin.Context) error {
	v := &ValidationError{}
	unit := unitQuery(c, "period", "day", []string{"day", "week", "month"}, v)
	w := window(c, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	if w.From == nil && w.To == nil {
		now := time.Now()
		from := now.Add(-30 * 24 * time.Hour)
		w = store.Window{From: &from, To: &now}
	}
	points, err := store.Deliverability(c.Request.Context(), h.db, unit, w)
	if err != nil {
		return err
	}
	out := make([]gin.H, len(points))
	for i, p := range points {
		out[i] = gin.H{"date": p.Date, "total": p.Total, "delivered": p.Delivered, "bounced": p.Bounced,
			"complained": p.Complained, "deliveryRate": rate(p.Delivered, p.Total)}
	}
	c.JSON(http.StatusOK, gin.H{"period": unit, "points": out})
	return nil
}

func (h *reportingHandlers) journeyList(c *gin.Context) error {
	stats, err := store.JourneyStatsByID(c.Request.Context(), h.db)
	if err != nil {
		return err
	}
	out := []gin.H{}
	for _, j := range h.defined() {
		s := stats[j.ID].ByStatus
		enrolled := s["active"] + s["waiting"] + s["completed"] + s["failed"] + s["exited"]
		var avg *int64
		if a := stats[j.ID].AvgDurationSecs; a != nil {
			r := int64(*a + 0.5)
			avg = &r
		}
		out = append(out, gin.H{"journeyId": j.ID, "name": j.Name, "enrolled": enrolled, "active": s["active"] + s["waiting"],
			"completed": s["completed"], "failed": s["failed"], "exited": s["exited"],
			"completionRate": rate(s["completed"], enrolled), "avgDurationSecs": avg})
	}
	c.JSON(http.StatusOK, gin.H{"journeys": out})
	return nil
}

func (h *reportingHandlers) defined() []*journey.Journey {
	if h.journeys == nil {
		return nil
	}
	return h.journeys.Defined()
}

func (h *reportingHandlers) journeyFunnel(c *gin.Context) error {
	id := c.Param("id")
	found := false
	for _, j := range h.defined() {
		found = found || j.ID == id
	}
	if !found {
		return Errorf(http.StatusNotFound, "Journey not found")
	}
	stats, err := store.JourneyStatsByID(c.Request.Context(), h.db)
	if err != nil {
		return err
	}
	sent, opened, clicked, err := store.JourneyEmailFunnel(c.Request.Context(), h.db, id)
	if err != nil {
		return err
	}
	s := stats[id].ByStatus
	c.JSON(http.StatusOK, gin.H{"journeyId": id, "enrolled": s["active"] + s["waiting"] + s["completed"] + s["failed"] + s["exited"],
		"emailSent": sent, "emailOpened": opened, "emailClicked": clicked, "completed": s["completed"], "failed": s["failed"], "exited": s["exited"]})
	return nil
}

func (h *reportingHandlers) events(c *gin.Context) error {
	v := &ValidationError{}
	unit := unitQuery(c, "granularity", "day", []string{"hour", "day", "week"}, v)
	w := window(c, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	to := time.Now()
	if w.To != nil {
		to = *w.To
	}
	from := to.Add(-30 * 24 * time.Hour)
	if w.From != nil {
		from = *w.From
	}
	vols, err := store.EventVolumes(c.Request.Context(), h.db, unit, from, to)
	if err != nil {
		return err
	}
	out := make([]gin.H, len(vols))
	for i, e := range vols {
		out[i] = gin.H{"event": e.Event, "date": e.Date, "count": e.Count}
	}
	c.JSON(http.StatusOK, gin.H{"events": out})
	return nil
}

func (h *reportingHandlers) template(c *gin.Context) error {
	v := &ValidationError{}
	unit := unitQuery(c, "granularity", "day", []string{"day", "week", "month"}, v)
	w := window(c, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	key := c.Param("key")
	totals, series, ok, err := store.TemplateReport(c.Request.Context(), h.db, key, unit, w)
	if err != nil {
		return err
	}
	if !ok {
		return Errorf(http.StatusNotFound, "Template has never been sent")
	}
	points := make([]gin.H, len(series))
	for i, p := range series {
		points[i] = gin.H{"date": p.Date, "sent": p.Sent, "delivered": p.Delivered, "opened": p.Opened, "clicked": p.Clicked, "bounced": p.Bounced}
	}
	type totalsJSON struct {
		Sent       int `json:"sent"`
		Delivered  int `json:"delivered"`
		Opened     int `json:"opened"`
		Clicked    int `json:"clicked"`
		Bounced    int `json:"bounced"`
		Complained int `json:"complained"`
		rates
	}
	c.JSON(http.StatusOK, gin.H{"templateKey": key,
		"window": gin.H{"from": ptr.NonZero(c.Query("from")), "to": ptr.NonZero(c.Query("to"))},
		"totals": totalsJSON{Sent: totals.Sent, Delivered: totals.Delivered, Opened: totals.Opened, Clicked: totals.Clicked,
			Bounced: totals.Bounced, Complained: totals.Complained, rates: ratesOf(totals)},
		"series": points})
	return nil
}

func (h *reportingHandlers) contactActivity(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	ct, err := h.ingest.ContactByPathID(c.Request.Context(), c.Param("id"))
	if errors.Is(err, ingest.ErrContactNotFound) {
		return Errorf(http.StatusNotFound, "Contact not found")
	}
	if err != nil {
		return err
	}
	sends, total, err := store.ContactSends(c.Request.Context(), h.db, ct.Key(), ct.Email, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]gin.H, len(sends))
	for i, e := range sends {
		out[i] = gin.H{"id": e.ID, "templateKey": e.TemplateKey, "subject": e.Subject, "status": e.Status,
			"sentAt": ptr.Map(e.SentAt, journey.Timestamp), "deliveredAt": ptr.Map(e.DeliveredAt, journey.Timestamp), "openedAt": ptr.Map(e.OpenedAt, journey.Timestamp),
			"clickedAt": ptr.Map(e.ClickedAt, journey.Timestamp), "bouncedAt": ptr.Map(e.BouncedAt, journey.Timestamp), "complainedAt": ptr.Map(e.ComplainedAt, journey.Timestamp),
			"bounceType": e.BounceType, "createdAt": journey.Timestamp(e.CreatedAt)}
	}
	c.JSON(http.StatusOK, gin.H{"contact": gin.H{"externalId": ct.ExternalID, "email": ct.Email}, "sends": out,
		"total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

// exportHeader is the CSV header of the sends export.
const exportHeader = "id,createdAt,templateKey,status,toEmail,userId,subject,sentAt,deliveredAt,openedAt,clickedAt,bouncedAt,complainedAt,bounceType"

// exportSends is GET /v1/admin/reporting/sends/export: up to 50,000 sends as CSV.
func (h *reportingHandlers) exportSends(c *gin.Context) error {
	v := &ValidationError{}
	f := emailFilter(c, v)
	if store.EngagementColumns[f.Engagement] == "" {
		f.Engagement = "" // unknown engagement values are ignored here
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString(exportHeader)
	ts := func(t *time.Time) string {
		if p := ptr.Map(t, journey.Timestamp); p != nil {
			return *p
		}
		return ""
	}
	err := store.EachEmailSend(c.Request.Context(), h.db, store.EmailFilter{TemplateKey: f.TemplateKey, Status: f.Status,
		Category: f.Category, Engagement: f.Engagement, From: f.From, To: f.To, UserIDOnly: c.Query("userId")}, 50_000, func(e store.EmailSend) error {
		cells := []string{e.ID, journey.Timestamp(e.CreatedAt), ptr.Deref(e.TemplateKey), e.Status, e.ToEmail, ptr.Deref(e.RowUserID), e.Subject,
			ts(e.SentAt), ts(e.DeliveredAt), ts(e.OpenedAt), ts(e.ClickedAt), ts(e.BouncedAt), ts(e.ComplainedAt), ptr.Deref(e.BounceType)}
		b.WriteByte('\n')
		b.WriteString(csvRecord(cells...))
		return nil
	})
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="email-sends.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", []byte(b.String()))
	return nil
}

// bucketList is GET /v1/admin/metrics/buckets: per registered bucket, in registry order.
func (h *reportingHandlers) bucketList(c *gin.Context) error {
	stats, err := store.BucketStatsByID(c.Request.Context(), h.db)
	if err != nil {
		return err
	}
	out := []gin.H{}
	for _, b := range h.buckets.All() {
		s := stats[b.ID]
		out = append(out, gin.H{"bucketId": b.ID, "name": b.Name, "size": s.Size, "entered": s.Entered, "left": s.Left,
			"avgDwellSecs": s.AvgDwellSecs})
	}
	c.JSON(http.StatusOK, gin.H{"buckets": out})
	return nil
}

// bucketTrend is GET /v1/admin/metrics/buckets/:id: its size and joins/leaves per period
// (default: the last 30 days by day).
func (h *reportingHandlers) bucketTrend(c *gin.Context) error {
	b, ok := h.buckets.Get(c.Param("id"))
	if !ok {
		return errBucketNotFound
	}
	v := &ValidationError{}
	unit := unitQuery(c, "period", "day", []string{"day", "week", "month"}, v)
	w := window(c, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	if w.From == nil && w.To == nil {
		now := time.Now()
		from := now.Add(-30 * 24 * time.Hour)
		w = store.Window{From: &from, To: &now}
	}
	stats, err := store.BucketStatsByID(c.Request.Context(), h.db)
	if err != nil {
		return err
	}
	points, err := store.BucketTrend(c.Request.Context(), h.db, b.ID, unit, w)
	if err != nil {
		return err
	}
	out := make([]gin.H, len(points))
	for i, p := range points {
		out[i] = gin.H{"date": p.Date, "entered": p.Entered, "left": p.Left}
	}
	c.JSON(http.StatusOK, gin.H{"bucketId": b.ID, "size": stats[b.ID].Size, "points": out})
	return nil
}
