package store

import (
	"context"
	"time"
)

// SendRow is a new email_sends row.
type SendRow struct {
	ID             string
	JourneyStateID string // "" = none
	UserID         string
	UserEmail      string
	TemplateKey    string
	From, To       string
	Subject        string
	Category       string // "" = none
	Status         string // queued, or failed for a blocked send
	StatusReason   string
	IdempotencyKey string // "" = none
	Props          map[string]any
}

// TrackedLink is a tracked_links row: a link of a send rewritten to the click redirect.
type TrackedLink struct {
	ID, URL string
}

// InsertSend writes a send row and its tracked links in one statement. With an idempotency key
// already taken it writes nothing and returns false.
func InsertSend(ctx context.Context, db DBTX, r SendRow, links []TrackedLink) (bool, error) {
	ids := make([]string, len(links))
	urls := make([]string, len(links))
	for i, l := range links {
		ids[i], urls[i] = l.ID, l.URL
	}
	var n int
	err := db.QueryRow(ctx, `WITH s AS (
			INSERT INTO email_sends (id, journey_state_id, user_id, user_email, template_key, from_email, to_email,
				subject, category, status, status_reason, idempotency_key, props)
			VALUES ($1, nullif($2, '')::uuid, nullif($3, ''), nullif($4, ''), nullif($5, ''), $6, $7, $8, nullif($9, ''),
				$10::email_send_status, nullif($11, ''), nullif($12, ''), $13)
			ON CONFLICT (idempotency_key) DO NOTHING RETURNING id),
		l AS (INSERT INTO tracked_links (id, email_send_id, original_url)
			SELECT u.id, s.id, u.url FROM s, unnest($14::uuid[], $15::text[]) AS u(id, url))
		SELECT count(*) FROM s`,
		r.ID, r.JourneyStateID, r.UserID, r.UserEmail, r.TemplateKey, r.From, r.To, r.Subject, r.Category,
		r.Status, r.StatusReason, r.IdempotencyKey, r.Props, ids, urls).Scan(&n)
	return n == 1, err
}

// SendByIdempotencyKey returns the id and status of the send holding a key.
func SendByIdempotencyKey(ctx context.Context, db DBTX, key string) (id, status string, err error) {
	err = db.QueryRow(ctx, `SELECT id::text, status::text FROM email_sends WHERE idempotency_key = $1`, key).Scan(&id, &status)
	return id, status, interpret(err)
}

// MarkSendSent records the provider's acceptance, and the outbound event, in one statement.
func MarkSendSent(ctx context.Context, db DBTX, id, providerID string, sentAt time.Time, event OutboxRow) error {
	_, err := db.Exec(ctx, `WITH u AS (UPDATE email_sends SET resend_id = $2, status = 'sent', sent_at = $3, updated_at = now()
			WHERE id = $1 RETURNING id)
		INSERT INTO outbox (kind, dedupe_key, payload) SELECT $4, $5, $6::jsonb FROM u
		ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`,
		id, providerID, sentAt, event.Kind, event.DedupeKey, string(event.Payload))
	return err
}

// MarkSendFailed fails a send the provider refused and releases its idempotency key, so a retry
// really sends.
func MarkSendFailed(ctx context.Context, db DBTX, id string) error {
	_, err := db.Exec(ctx, `UPDATE email_sends SET status = 'failed', status_reason = 'provider_error',
		idempotency_key = NULL, updated_at = now() WHERE id = $1`, id)
	return err
}

// RecipientGate is what the send-time checks need to know about a recipient: every preference
// row of the address folded into one, and the sends counted against a frequency cap.
type RecipientGate struct {
	Suppressed      bool
	UnsubscribedAll bool
	Categories      map[string]bool
	RecentSends     int
}

// CapWindow asks RecipientCheck to count recent non-failed sends (of one category when set).
type CapWindow struct {
	Window   time.Duration
	Category string
}

// RecipientCheck folds the preference rows of an address (suppressed or unsubscribed if any row
// is; a category false if any row says false, else true if one says true) and counts its sends
// for the cap, in one round trip.
func RecipientCheck(ctx context.Context, db DBTX, email string, cap *CapWindow) (RecipientGate, error) {
	var g RecipientGate
	var window *time.Duration
	var category *string
	if cap != nil {
		window = &cap.Window
		if cap.Category != "" {
			category = &cap.Category
		}
	}
	err := db.QueryRow(ctx, `WITH p AS (SELECT suppressed, unsubscribed_all, categories FROM email_preferences
			WHERE lower(email) = lower($1))
		SELECT coalesce(bool_or(suppressed), false), coalesce(bool_or(unsubscribed_all), false),
			(SELECT coalesce(jsonb_object_agg(key, flag), '{}'::jsonb) FROM
				(SELECT key, bool_and(value = 'true') AS flag FROM p, jsonb_each_text(coalesce(p.categories, '{}'::jsonb)) GROUP BY key) c),
			CASE WHEN $2::interval IS NULL THEN 0 ELSE (SELECT count(*) FROM email_sends
				WHERE to_email = lower($1) AND created_at >= now() - $2::interval AND status <> 'failed'
					AND ($3::text IS NULL OR category = $3)) END
		FROM p`, email, window, category).Scan(&g.Suppressed, &g.UnsubscribedAll, &g.Categories, &g.RecentSends)
	return g, err
}

// SendContext is who a send was for, as tracking and provider events report it.
type SendContext struct {
	SendID      string
	UserID      string // the run's user, else the send's, else the address
	UserEmail   string
	To          string
	TemplateKey *string
	ProviderID  *string
}

const sendContextSQL = `SELECT es.id::text, coalesce(js.user_id, es.user_id, es.to_email),
		coalesce(js.user_email, es.user_email, es.to_email), es.to_email, es.template_key, es.resend_id
	FROM email_sends es LEFT JOIN journey_states js ON js.id = es.journey_state_id AND js.deleted_at IS NULL `

// SendContextByID finds a send's context by its id.
func SendContextByID(ctx context.Context, db DBTX, id string) (SendContext, error) {
	var s SendContext
	err := db.QueryRow(ctx, sendContextSQL+`WHERE es.id = $1`, id).
		Scan(&s.SendID, &s.UserID, &s.UserEmail, &s.To, &s.TemplateKey, &s.ProviderID)
	return s, interpret(err)
}

// SendContextsByProviderID finds the sends a provider id names.
func SendContextsByProviderID(ctx context.Context, db DBTX, providerID string) ([]SendContext, error) {
	rows, err := db.Query(ctx, sendContextSQL+`WHERE es.resend_id = $1 ORDER BY es.created_at`, providerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SendContext
	for rows.Next() {
		var s SendContext
		if err := rows.Scan(&s.SendID, &s.UserID, &s.UserEmail, &s.To, &s.TemplateKey, &s.ProviderID); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// RecordOpen stamps a send's first open; false when it was opened before (or is unknown).
func RecordOpen(ctx context.Context, db DBTX, sendID string) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE email_sends SET opened_at = now(), updated_at = now()
		WHERE id = $1 AND opened_at IS NULL`, sendID)
	return tag.RowsAffected() == 1, err
}

// Click is a recorded click on a tracked link.
type Click struct {
	SendID string
	URL    string
	First  bool // the send's first click
}

// RecordClick counts a click on a tracked link, stores who clicked and stamps the send's first
// click, in one statement. ErrNotFound for an unknown link.
func RecordClick(ctx context.Context, db DBTX, linkID string, ip, userAgent *string) (Click, error) {
	var c Click
	err := db.QueryRow(ctx, `WITH l AS (UPDATE tracked_links SET click_count = click_count + 1, updated_at = now()
			WHERE id = $1 RETURNING id, email_send_id, original_url),
		c AS (INSERT INTO link_clicks (tracked_link_id, ip_address, user_agent) SELECT id, $2, $3 FROM l),
		s AS (UPDATE email_sends SET clicked_at = now(), updated_at = now()
			WHERE id = (SELECT email_send_id FROM l) AND clicked_at IS NULL RETURNING id)
		SELECT l.email_send_id::text, l.original_url, EXISTS (SELECT 1 FROM s) FROM l`, linkID, ip, userAgent).
		Scan(&c.SendID, &c.URL, &c.First)
	return c, interpret(err)
}

// SetBounceDetail stores the provider's bounce classification and message (message only when
// non-empty).
func SetBounceDetail(ctx context.Context, db DBTX, providerID, bounceType, message string) error {
	_, err := db.Exec(ctx, `UPDATE email_sends SET bounce_type = nullif($2, ''),
		bounce_reason = coalesce(nullif($3, ''), bounce_reason), updated_at = now() WHERE resend_id = $1`,
		providerID, bounceType, message)
	return err
}

// Recipient is the identity of a contact a send goes to.
type Recipient struct {
	ID         string
	ExternalID *string
	Email      *string
}

// ExternalIDOrID is the identity written on send and preference rows.
func (r Recipient) ExternalIDOrID() string {
	if r.ExternalID != nil && *r.ExternalID != "" {
		return *r.ExternalID
	}
	return r.ID
}

// RecipientByEmail finds the live contact of an address, directly or through an email alias.
func RecipientByEmail(ctx context.Context, db DBTX, addr string) (Recipient, error) {
	return scanRecipient(db.QueryRow(ctx, `(SELECT id::text, external_id, email FROM contacts
			WHERE deleted_at IS NULL AND lower(email) = lower($1) LIMIT 1)
		UNION ALL
		(SELECT c.id::text, c.external_id, c.email FROM contact_aliases a JOIN contacts c ON c.id = a.contact_id
			WHERE c.deleted_at IS NULL AND a.alias_kind = 'email' AND a.alias_value = lower($1) LIMIT 1)
		LIMIT 1`, addr))
}

// RecipientByUserID finds the live contact of an external id, directly or through an alias.
func RecipientByUserID(ctx context.Context, db DBTX, userID string) (Recipient, error) {
	return scanRecipient(db.QueryRow(ctx, `(SELECT id::text, external_id, email FROM contacts
			WHERE deleted_at IS NULL AND external_id = $1 LIMIT 1)
		UNION ALL
		(SELECT c.id::text, c.external_id, c.email FROM contact_aliases a JOIN contacts c ON c.id = a.contact_id
			WHERE c.deleted_at IS NULL AND a.alias_kind = 'external' AND a.alias_value = $1 LIMIT 1)
		LIMIT 1`, userID))
}

func scanRecipient(row interface{ Scan(...any) error }) (Recipient, error) {
	var r Recipient
	err := row.Scan(&r.ID, &r.ExternalID, &r.Email)
	return r, interpret(err)
}
