package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Campaign statuses. queued|sending|sent|failed are the reference's wire values; scheduled,
// paused and cancelled are this engine's additions.
const (
	CampaignQueued    = "queued"
	CampaignScheduled = "scheduled"
	CampaignSending   = "sending"
	CampaignPaused    = "paused"
	CampaignSent      = "sent"
	CampaignFailed    = "failed"
	CampaignCancelled = "cancelled"
)

// Campaign is a campaigns row.
type Campaign struct {
	ID, Name, Status         string
	AudienceKind, AudienceID string
	TemplateKey              string
	Props                    map[string]any
	From, Subject            *string
	IdempotencyKey           *string
	CampaignCounts
	SendsPerSecond           *int
	LocalTime                *string // HH:MM in each recipient's zone
	PausedReason             *string
	ResumeCursor, ResumeKind *string
	ScheduledAt, StartedAt   *time.Time
	CompletedAt, CancelledAt *time.Time
	CreatedAt, UpdatedAt     time.Time
}

// CampaignCounts are a campaign's recipients so far, by outcome.
type CampaignCounts struct {
	Total, Sent, Skipped, Failed int
}

const campaignColumns = `id::text, name, status, audience_kind, audience_id, template_key, coalesce(props, '{}'::jsonb), from_email,
	subject, idempotency_key, total_recipients, sent_count, skipped_count, failed_count, sends_per_second, local_time, paused_reason,
	resume_cursor, resume_kind, scheduled_at, started_at, completed_at, cancelled_at, created_at, updated_at`

func scanCampaign(row pgx.Row) (Campaign, error) {
	var c Campaign
	err := row.Scan(&c.ID, &c.Name, &c.Status, &c.AudienceKind, &c.AudienceID, &c.TemplateKey, &c.Props, &c.From,
		&c.Subject, &c.IdempotencyKey, &c.Total, &c.Sent, &c.Skipped, &c.Failed, &c.SendsPerSecond, &c.LocalTime, &c.PausedReason,
		&c.ResumeCursor, &c.ResumeKind, &c.ScheduledAt, &c.StartedAt, &c.CompletedAt, &c.CancelledAt, &c.CreatedAt, &c.UpdatedAt)
	return c, interpret(err)
}

// NewCampaign is a campaign to create.
type NewCampaign struct {
	Name, AudienceKind, AudienceID, TemplateKey string
	Props                                       map[string]any
	From, Subject, IdempotencyKey               *string
	ScheduledAt                                 *time.Time // set: status scheduled
	LocalTime                                   *string    // set: scheduled, delivered in waves from ScheduledAt (or now)
	SendsPerSecond                              *int
}

// InsertCampaign creates a campaign; with an idempotency key already taken it returns that
// campaign instead (created false), whatever the new body says.
func InsertCampaign(ctx context.Context, db DBTX, n NewCampaign) (c Campaign, created bool, err error) {
	status := CampaignQueued
	if n.ScheduledAt != nil || n.LocalTime != nil {
		status = CampaignScheduled
	}
	props := n.Props
	if props == nil {
		props = map[string]any{}
	}
	c, err = scanCampaign(db.QueryRow(ctx, `INSERT INTO campaigns (name, status, audience_kind, audience_id, template_key, props,
			from_email, subject, idempotency_key, scheduled_at, sends_per_second, local_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, CASE WHEN $12::text IS NULL THEN $10 ELSE coalesce($10, now()) END, $11, $12)
		ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
		RETURNING `+campaignColumns, n.Name, status, n.AudienceKind, n.AudienceID, n.TemplateKey, props,
		n.From, n.Subject, n.IdempotencyKey, n.ScheduledAt, n.SendsPerSecond, n.LocalTime))
	if errors.Is(err, ErrNotFound) && n.IdempotencyKey != nil {
		c, err = scanCampaign(db.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE idempotency_key = $1`, *n.IdempotencyKey))
		return c, false, err
	}
	return c, err == nil, err
}

// CampaignByID reads a campaign.
func CampaignByID(ctx context.Context, db DBTX, id string) (Campaign, error) {
	return scanCampaign(db.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1`, id))
}

// ListCampaigns pages campaigns, newest first, optionally of one status.
func ListCampaigns(ctx context.Context, db DBTX, status string, limit, offset int) ([]Campaign, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM campaigns WHERE $1 = '' OR status = $1`, status).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE $1 = '' OR status = $1
		ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`, status, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Campaign, error) { return scanCampaign(r) })
	return list, total, err
}

// BeginCampaign moves a campaign that may send to sending and returns it: a queued one, a
// scheduled one whose time (as of asOf) has come, one already sending, and with revive a failed
// one (a fresh run completes a given-up campaign's tail). Any other campaign is returned as is.
func BeginCampaign(ctx context.Context, db DBTX, id string, asOf time.Time, revive bool) (Campaign, error) {
	c, err := scanCampaign(db.QueryRow(ctx, `UPDATE campaigns SET status = 'sending', started_at = coalesce(started_at, now()),
			completed_at = NULL, updated_at = now()
		WHERE id = $1 AND (status IN ('queued', 'sending') OR (status = 'scheduled' AND scheduled_at <= $2)
			OR (status = 'failed' AND $3))
		RETURNING `+campaignColumns, id, asOf, revive))
	if errors.Is(err, ErrNotFound) {
		return CampaignByID(ctx, db, id)
	}
	return c, err
}

// SaveCampaignProgress writes a page's outcome: the absolute counts and the resume point, in
// one statement. It returns the status, which the control routes may have changed meanwhile.
func SaveCampaignProgress(ctx context.Context, db DBTX, id string, counts CampaignCounts, cursor, kind string) (string, error) {
	var status string
	err := db.QueryRow(ctx, `UPDATE campaigns SET total_recipients = $2, sent_count = $3, skipped_count = $4, failed_count = $5,
			resume_cursor = $6, resume_kind = $7, updated_at = now()
		WHERE id = $1 RETURNING status`, id, counts.Total, counts.Sent, counts.Skipped, counts.Failed, cursor, kind).Scan(&status)
	return status, interpret(err)
}

// CompleteCampaign marks a sending campaign sent with its final counts; false when it is not
// sending any more (cancelled or given up meanwhile).
func CompleteCampaign(ctx context.Context, db DBTX, id string, counts CampaignCounts) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE campaigns SET status = 'sent', completed_at = now(), total_recipients = $2, sent_count = $3,
			skipped_count = $4, failed_count = $5, resume_cursor = NULL, resume_kind = NULL, updated_at = now()
		WHERE id = $1 AND status = 'sending'`, id, counts.Total, counts.Sent, counts.Skipped, counts.Failed)
	return tag.RowsAffected() == 1, err
}

// SetCampaignStatus moves a campaign whose status is one of from to status (compare and
// set); reason is recorded as paused_reason (cleared otherwise). ok is false, with the campaign
// as it is, when its status was not one of from.
func SetCampaignStatus(ctx context.Context, db DBTX, id string, from []string, status, reason string) (c Campaign, ok bool, err error) {
	c, err = scanCampaign(db.QueryRow(ctx, `UPDATE campaigns SET status = $3, paused_reason = nullif($4, ''),
			cancelled_at = CASE WHEN $3 = 'cancelled' THEN now() ELSE cancelled_at END,
			completed_at = CASE WHEN $3 = 'cancelled' THEN now() ELSE completed_at END, updated_at = now()
		WHERE id = $1 AND status = ANY($2) RETURNING `+campaignColumns, id, from, status, reason))
	if errors.Is(err, ErrNotFound) {
		c, err = CampaignByID(ctx, db, id)
		return c, false, err
	}
	return c, err == nil, err
}

// GiveUpCampaigns fails queued or sending campaigns that made no progress for giveUp.
func GiveUpCampaigns(ctx context.Context, db DBTX, giveUp time.Duration) ([]string, error) {
	rows, err := db.Query(ctx, `UPDATE campaigns SET status = 'failed', completed_at = now(), updated_at = now()
		WHERE status IN ('queued', 'sending') AND updated_at < now() - make_interval(secs => $1) RETURNING id::text`, giveUp.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// StaleCampaigns bumps and returns queued or sending campaigns that made no progress for
// stale (the bump keeps the next tick from taking them again).
func StaleCampaigns(ctx context.Context, db DBTX, stale time.Duration) ([]string, error) {
	rows, err := db.Query(ctx, `UPDATE campaigns SET updated_at = now()
		WHERE status IN ('queued', 'sending') AND updated_at < now() - make_interval(secs => $1) RETURNING id::text`, stale.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// AudienceRecipient is one address an audience page yields.
type AudienceRecipient struct {
	Email, UserID string
}

// AudiencePage is one keyset page of an audience: Raw rows were read (a page shorter than
// asked ends the walk), Next is the cursor after them.
type AudiencePage struct {
	Recipients []AudienceRecipient
	Raw        int
	Next       string
}

// Audience resolver kinds (campaigns.resume_kind): a stored cursor is only valid for its kind.
const (
	AudienceBucket    = "bucket"
	AudienceOptInList = "opt-in-list"
	AudienceOptOut    = "opt-out-list"
)

// blocked is the condition that some preference row of the address suppresses or
// unsubscribes it, with list also from the list named by $1.
func blocked(address string, list bool) string {
	optOut := ""
	if list {
		optOut = ` OR b.categories -> $1 = 'false'::jsonb`
	}
	return `EXISTS (SELECT 1 FROM email_preferences b WHERE lower(b.email) = lower(` + address + `)
		AND (b.unsubscribed_all OR b.suppressed` + optOut + `))`
}

// ZoneFilter narrows an audience page to contacts whose stored timezone is one of Zones ("" =
// none), or, with Rest, to those whose zone is not one of Planned.
type ZoneFilter struct {
	Zones, Planned []string
	Rest           bool
}

// zoneCondition is the filter on a contacts row k ($4 zones, $5 rest, $6 planned; NULL zones =
// no filter).
const zoneCondition = ` AND ($4::text[] IS NULL OR coalesce(k.timezone, '') = ANY($4)
	OR ($5 AND NOT coalesce(k.timezone, '') = ANY($6)))`

// AudienceZones are the distinct stored timezones of live contacts ("" = none).
func AudienceZones(ctx context.Context, db DBTX) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT DISTINCT coalesce(timezone, '') FROM contacts WHERE deleted_at IS NULL ORDER BY 1`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// AudiencePageOf reads one page of a campaign audience after cursor. Every resolver walks a
// primary key and leaves out, in SQL, the addresses that may not receive it; addresses come
// back trimmed and lower-cased.
//
//   - bucket: active members of live contacts (joined on the contact key), by membership id;
//   - opt-in list: preference rows with an explicit true, each address once (on its first
//     qualifying row), by preference id (the reference's rule: preference rows only);
//   - opt-out list: live contacts with an email and no opt-out, by contact id.
func AudiencePageOf(ctx context.Context, db DBTX, kind, id, cursor string, limit int, zones *ZoneFilter) (AudiencePage, error) {
	var q string
	switch kind {
	case AudienceBucket:
		q = `SELECT m.id::text, lower(trim(coalesce(m.user_email, k.email, ''))), m.user_id
			FROM bucket_memberships m JOIN contacts k ON ` + contactKey + ` = m.user_id AND k.deleted_at IS NULL
			WHERE m.bucket_id = $1 AND m.status = 'active' AND m.deleted_at IS NULL AND m.id > $2::uuid
				AND NOT ` + blocked(`trim(coalesce(m.user_email, k.email, ''))`, false) + zoneCondition + `
			ORDER BY m.id LIMIT $3`
	case AudienceOptInList:
		q = `SELECT p.id::text, lower(trim(p.email)), p.user_id FROM email_preferences p
			LEFT JOIN contacts k ON ` + contactKey + ` = p.user_id AND k.deleted_at IS NULL
			WHERE p.id > $2::uuid AND p.categories -> $1 = 'true'::jsonb
				AND NOT EXISTS (SELECT 1 FROM email_preferences b WHERE lower(b.email) = lower(trim(p.email))
					AND (b.unsubscribed_all OR b.suppressed OR b.categories -> $1 = 'false'::jsonb
						OR b.id < p.id AND b.categories -> $1 = 'true'::jsonb))` + zoneCondition + `
			ORDER BY p.id LIMIT $3`
	case AudienceOptOut:
		q = `SELECT k.id::text, lower(trim(k.email)), coalesce(k.external_id, k.id::text) FROM contacts k
			WHERE k.deleted_at IS NULL AND k.email IS NOT NULL AND k.id > $2::uuid
				AND NOT ` + blocked(`trim(k.email)`, true) + zoneCondition + `
			ORDER BY k.id LIMIT $3`
	default:
		return AudiencePage{}, errors.New("unknown audience kind " + kind)
	}
	var only, planned []string
	rest := false
	if zones != nil {
		only, planned, rest = append([]string{}, zones.Zones...), append([]string{}, zones.Planned...), zones.Rest
	}
	rows, err := db.Query(ctx, q, id, uuidCursor(cursor), limit, only, rest, planned)
	if err != nil {
		return AudiencePage{}, err
	}
	defer rows.Close()
	page := AudiencePage{Next: cursor}
	for rows.Next() {
		var r AudienceRecipient
		if err := rows.Scan(&page.Next, &r.Email, &r.UserID); err != nil {
			return AudiencePage{}, err
		}
		page.Raw++
		if r.Email != "" {
			page.Recipients = append(page.Recipients, r)
		}
	}
	return page, rows.Err()
}
