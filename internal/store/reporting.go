package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reporting queries: set-based counts over sends, runs, events and memberships. Callers turn
// counts into rates; series dates are date_trunc(...)::text in the session zone (UTC).

// Overview is the dashboard's headline numbers.
type Overview struct {
	TotalContacts, ActiveJourneys, ActiveBuckets, BucketMembers int
	Sent24h, Sent7d, Sent30d, Bounced30d                        int
	UnsubscribedAll, PreferenceRows                             int
}

// LoadOverview counts the overview in one round trip.
func LoadOverview(ctx context.Context, db DBTX) (Overview, error) {
	var o Overview
	err := db.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM contacts WHERE deleted_at IS NULL),
		(SELECT count(*) FROM journey_states WHERE deleted_at IS NULL AND status IN ('active', 'waiting')),
		(SELECT count(DISTINCT bucket_id) FROM bucket_memberships WHERE deleted_at IS NULL AND status = 'active'),
		(SELECT count(*) FROM bucket_memberships WHERE deleted_at IS NULL AND status = 'active'),
		(SELECT count(*) FROM email_sends WHERE sent_at >= now() - interval '24 hours'),
		(SELECT count(*) FROM email_sends WHERE sent_at >= now() - interval '7 days'),
		(SELECT count(*) FROM email_sends WHERE sent_at >= now() - interval '30 days'),
		(SELECT count(*) FROM email_sends WHERE status = 'bounced' AND created_at >= now() - interval '30 days'),
		(SELECT count(*) FILTER (WHERE unsubscribed_all) FROM email_preferences),
		(SELECT count(*) FROM email_preferences)`).Scan(&o.TotalContacts, &o.ActiveJourneys, &o.ActiveBuckets, &o.BucketMembers,
		&o.Sent24h, &o.Sent7d, &o.Sent30d, &o.Bounced30d, &o.UnsubscribedAll, &o.PreferenceRows)
	return o, err
}

// EngagementCounts are the send counts rates are computed from.
type EngagementCounts struct {
	Sent, Delivered, Opened, Clicked, Bounced, Complained int
}

// engagementSQL counts the engagement of the rows in scope; bounced is by status here (the
// template report counts by timestamp instead, see TemplateReport).
const engagementSQL = `count(*) FILTER (WHERE sent_at IS NOT NULL),
	count(*) FILTER (WHERE status = 'delivered' OR delivered_at IS NOT NULL),
	count(*) FILTER (WHERE opened_at IS NOT NULL),
	count(*) FILTER (WHERE clicked_at IS NOT NULL)`

// Window is an inclusive created_at window; nil ends are open.
type Window struct{ From, To *time.Time }

func (w Window) args(first int) (string, []any) {
	return fmt.Sprintf(" ($%d::timestamptz IS NULL OR created_at >= $%d) AND ($%d::timestamptz IS NULL OR created_at <= $%d)",
		first, first, first+1, first+1), []any{w.From, w.To}
}

// TemplateEngagement is one template's counts.
type TemplateEngagement struct {
	TemplateKey *string
	EngagementCounts
}

// EngagementByTemplate counts sends per template key in a window (NULL keys only when asked).
func EngagementByTemplate(ctx context.Context, db DBTX, w Window, includeUntemplated bool) ([]TemplateEngagement, error) {
	cond, args := w.args(1)
	rows, err := db.Query(ctx, `SELECT template_key, `+engagementSQL+`, count(*) FILTER (WHERE status = 'bounced')
		FROM email_sends WHERE`+cond+` AND ($3 OR template_key IS NOT NULL)
		GROUP BY template_key ORDER BY template_key NULLS FIRST`, append(args, includeUntemplated)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TemplateEngagement{}
	for rows.Next() {
		var t TemplateEngagement
		if err := rows.Scan(&t.TemplateKey, &t.Sent, &t.Delivered, &t.Opened, &t.Clicked, &t.Bounced); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeliverabilityPoint is one period of the deliverability series.
type DeliverabilityPoint struct {
	Date                                  string
	Total, Delivered, Bounced, Complained int
}

// Deliverability buckets every send (failed included) by period.
func Deliverability(ctx context.Context, db DBTX, unit string, w Window) ([]DeliverabilityPoint, error) {
	cond, args := w.args(2)
	rows, err := db.Query(ctx, `SELECT date_trunc($1, created_at)::text AS d, count(*),
			count(*) FILTER (WHERE status = 'delivered' OR delivered_at IS NOT NULL),
			count(*) FILTER (WHERE status = 'bounced'), count(*) FILTER (WHERE status = 'complained')
		FROM email_sends WHERE`+cond+` GROUP BY d ORDER BY d`, append([]any{unit}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []DeliverabilityPoint{}
	for rows.Next() {
		var p DeliverabilityPoint
		if err := rows.Scan(&p.Date, &p.Total, &p.Delivered, &p.Bounced, &p.Complained); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// JourneyStats are a journey's live runs by status and their average duration.
type JourneyStats struct {
	ByStatus        map[string]int
	AvgDurationSecs *float64
}

// JourneyStatsByID returns the stats of every journey with runs.
func JourneyStatsByID(ctx context.Context, db DBTX) (map[string]JourneyStats, error) {
	rows, err := db.Query(ctx, `SELECT journey_id, status::text, count(*),
			avg(extract(epoch FROM coalesce(completed_at, exited_at) - created_at))
				FILTER (WHERE status IN ('completed', 'exited') AND coalesce(completed_at, exited_at) IS NOT NULL)
		FROM journey_states WHERE deleted_at IS NULL GROUP BY journey_id, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]JourneyStats{}
	sums := map[string][2]float64{} // total seconds, runs
	for rows.Next() {
		var id, status string
		var n int
		var avg *float64
		if err := rows.Scan(&id, &status, &n, &avg); err != nil {
			return nil, err
		}
		s := out[id]
		if s.ByStatus == nil {
			s.ByStatus = map[string]int{}
		}
		s.ByStatus[status] = n
		out[id] = s
		if avg != nil {
			acc := sums[id]
			sums[id] = [2]float64{acc[0] + *avg*float64(n), acc[1] + float64(n)}
		}
	}
	for id, acc := range sums {
		s := out[id]
		avg := acc[0] / acc[1]
		s.AvgDurationSecs = &avg
		out[id] = s
	}
	return out, rows.Err()
}

// JourneyEmailFunnel counts the sent, opened and clicked sends of a journey's live runs.
func JourneyEmailFunnel(ctx context.Context, db DBTX, journeyID string) (sent, opened, clicked int, err error) {
	err = db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE es.sent_at IS NOT NULL), count(*) FILTER (WHERE es.opened_at IS NOT NULL),
			count(*) FILTER (WHERE es.clicked_at IS NOT NULL)
		FROM email_sends es JOIN journey_states js ON js.id = es.journey_state_id AND js.deleted_at IS NULL
		WHERE js.journey_id = $1`, journeyID).Scan(&sent, &opened, &clicked)
	return
}

// EventVolume is one (event, period) count.
type EventVolume struct {
	Event, Date string
	Count       int
}

// EventVolumes counts events per name and period, at most 10,000 rows.
func EventVolumes(ctx context.Context, db DBTX, unit string, from, to time.Time) ([]EventVolume, error) {
	rows, err := db.Query(ctx, `SELECT event, date_trunc($1, occurred_at)::text AS d, count(*) FROM user_events
		WHERE occurred_at >= $2 AND occurred_at <= $3 GROUP BY d, event ORDER BY d, event LIMIT 10000`, unit, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []EventVolume{}
	for rows.Next() {
		var v EventVolume
		if err := rows.Scan(&v.Event, &v.Date, &v.Count); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// TemplatePoint is one period of a template's series.
type TemplatePoint struct {
	Date string
	EngagementCounts
}

// TemplateReport returns a template's totals and series in a window; ok is false when the
// template was never sent at all (whatever the window). Bounced and complained count timestamps.
func TemplateReport(ctx context.Context, db DBTX, key, unit string, w Window) (totals EngagementCounts, series []TemplatePoint, ok bool, err error) {
	if err = db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM email_sends WHERE template_key = $1)`, key).Scan(&ok); err != nil || !ok {
		return
	}
	cond, args := w.args(3)
	rows, err := db.Query(ctx, `SELECT date_trunc($2, created_at)::text AS d, `+engagementSQL+`,
			count(*) FILTER (WHERE bounced_at IS NOT NULL), count(*) FILTER (WHERE complained_at IS NOT NULL)
		FROM email_sends WHERE template_key = $1 AND`+cond+` GROUP BY d ORDER BY d`, append([]any{key, unit}, args...)...)
	if err != nil {
		return
	}
	defer rows.Close()
	series = []TemplatePoint{}
	for rows.Next() {
		var p TemplatePoint
		if err = rows.Scan(&p.Date, &p.Sent, &p.Delivered, &p.Opened, &p.Clicked, &p.Bounced, &p.Complained); err != nil {
			return
		}
		series = append(series, p)
		totals.Sent += p.Sent
		totals.Delivered += p.Delivered
		totals.Opened += p.Opened
		totals.Clicked += p.Clicked
		totals.Bounced += p.Bounced
		totals.Complained += p.Complained
	}
	err = rows.Err()
	return
}

// ContactSends pages the sends of a contact (by its user key or its address), newest first.
func ContactSends(ctx context.Context, db DBTX, userKey string, addr *string, limit, offset int) ([]EmailSend, int, error) {
	const where = ` WHERE es.user_id = $1 OR ($2::text IS NOT NULL AND es.user_email = $2)`
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM email_sends es`+where, userKey, addr).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT `+emailSendColumns+emailSendFrom+where+` ORDER BY es.created_at DESC, es.id DESC LIMIT $3 OFFSET $4`,
		userKey, addr, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []EmailSend{}
	for rows.Next() {
		e, err := scanEmailSend(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// BucketStats are a bucket's live memberships: active, ever entered, left, and the average
// dwell (left_at, or now, minus entered_at) in seconds.
type BucketStats struct {
	Size, Entered, Left int
	AvgDwellSecs        *float64
}

// BucketStatsByID returns the stats of every bucket with memberships.
func BucketStatsByID(ctx context.Context, db DBTX) (map[string]BucketStats, error) {
	rows, err := db.Query(ctx, `SELECT bucket_id, count(*) FILTER (WHERE status = 'active'), count(*),
			count(*) FILTER (WHERE status = 'left'), round(avg(extract(epoch FROM coalesce(left_at, now()) - entered_at)))::float8
		FROM bucket_memberships WHERE deleted_at IS NULL GROUP BY bucket_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]BucketStats{}
	for rows.Next() {
		var id string
		var s BucketStats
		if err := rows.Scan(&id, &s.Size, &s.Entered, &s.Left, &s.AvgDwellSecs); err != nil {
			return nil, err
		}
		out[id] = s
	}
	return out, rows.Err()
}

// BucketPoint is one period of a bucket's trend: joins by entered_at, leaves by left_at.
type BucketPoint struct {
	Date          string
	Entered, Left int
}

// BucketTrend buckets a bucket's joins and leaves by period within w, merged by date, ascending.
func BucketTrend(ctx context.Context, db DBTX, bucketID, unit string, w Window) ([]BucketPoint, error) {
	rows, err := db.Query(ctx, `WITH e AS (SELECT date_trunc($2, entered_at)::text AS d, count(*) AS n FROM bucket_memberships
			WHERE bucket_id = $1 AND deleted_at IS NULL AND ($3::timestamptz IS NULL OR entered_at >= $3)
				AND ($4::timestamptz IS NULL OR entered_at <= $4) GROUP BY 1),
		l AS (SELECT date_trunc($2, left_at)::text AS d, count(*) AS n FROM bucket_memberships
			WHERE bucket_id = $1 AND deleted_at IS NULL AND left_at IS NOT NULL AND ($3::timestamptz IS NULL OR left_at >= $3)
				AND ($4::timestamptz IS NULL OR left_at <= $4) GROUP BY 1)
		SELECT coalesce(e.d, l.d), coalesce(e.n, 0), coalesce(l.n, 0) FROM e FULL JOIN l ON l.d = e.d ORDER BY 1`,
		bucketID, unit, w.From, w.To)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (BucketPoint, error) {
		var p BucketPoint
		return p, r.Scan(&p.Date, &p.Entered, &p.Left)
	})
}
