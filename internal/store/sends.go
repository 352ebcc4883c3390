package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/jackc/pgx/v5"
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
	// MessageID is the Message-ID the send goes out with, recorded as its provider id until the
	// provider answers with its own (SMTP answers with this one: the sent mark then changes no
	// indexed column and is a HOT update).
	MessageID string
	Props     map[string]any
}

// TrackedLink is a tracked_links row: a link of a send rewritten to the click redirect.
type TrackedLink struct {
	ID, URL string
}

// NewSend is a send row with its tracked links.
type NewSend struct {
	Row   SendRow
	Links []TrackedLink
}

// InsertSends writes send rows and their tracked links in one statement. A row whose idempotency
// key is already taken is not written: its result is false.
func InsertSends(ctx context.Context, db DBTX, sends []NewSend) ([]bool, error) {
	// Plain string arrays ("" = NULL) encode much faster than arrays of pointers.
	n := len(sends)
	cols := make([][]string, 14)
	for i := range cols {
		cols[i] = make([]string, n)
	}
	var linkIDs, linkSends, linkURLs []string
	for i, s := range sends {
		r := s.Row
		props := ""
		if r.Props != nil {
			b, err := json.Marshal(r.Props)
			if err != nil {
				return nil, fmt.Errorf("encode props: %w", err)
			}
			props = string(b)
		}
		for c, v := range []string{r.ID, r.JourneyStateID, r.UserID, r.UserEmail, r.TemplateKey, r.From, r.To, r.Subject,
			r.Category, r.Status, r.StatusReason, r.IdempotencyKey, props, r.MessageID} {
			cols[c][i] = v
		}
		for _, l := range s.Links {
			linkIDs, linkSends, linkURLs = append(linkIDs, l.ID), append(linkSends, r.ID), append(linkURLs, l.URL)
		}
	}
	rows, err := db.Query(ctx, `WITH s AS (
			INSERT INTO email_sends (id, journey_state_id, user_id, user_email, template_key, from_email, to_email,
				subject, category, status, status_reason, idempotency_key, props, resend_id)
			SELECT v.id::uuid, nullif(v.state, '')::uuid, nullif(v.user_id, ''), nullif(v.user_email, ''), nullif(v.template, ''),
				v.from_email, v.to_email, v.subject, nullif(v.category, ''), v.status::email_send_status, nullif(v.reason, ''),
				nullif(v.key, ''), nullif(v.props, '')::jsonb, nullif(v.message_id, '')
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
				$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $17::text[])
				AS v(id, state, user_id, user_email, template, from_email, to_email, subject, category, status, reason, key, props, message_id)
			ON CONFLICT (idempotency_key) DO NOTHING RETURNING id),
		l AS (INSERT INTO tracked_links (id, email_send_id, original_url)
			SELECT u.id::uuid, u.send_id::uuid, u.url FROM unnest($14::text[], $15::text[], $16::text[]) AS u(id, send_id, url)
			JOIN s ON s.id = u.send_id::uuid)
		SELECT id::text FROM s`,
		cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9], cols[10], cols[11], cols[12],
		linkIDs, linkSends, linkURLs, cols[13])
	if err != nil {
		return nil, err
	}
	written, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	in := make(map[string]bool, len(written))
	for _, id := range written {
		in[id] = true
	}
	out := make([]bool, n)
	for i, s := range sends {
		out[i] = in[s.Row.ID]
	}
	return out, nil
}

// InsertSend is InsertSends of one row.
func InsertSend(ctx context.Context, db DBTX, r SendRow, links []TrackedLink) (bool, error) {
	out, err := InsertSends(ctx, db, []NewSend{{Row: r, Links: links}})
	if err != nil {
		return false, err
	}
	return out[0], nil
}

// HeldSend is the send holding an idempotency key; Reason is set on a queued send held for a
// retry.
type HeldSend struct {
	ID, Status, Reason, UserID string
	Stale                      bool // queued without a reason and untouched for longer than the in-flight bound
}

// Reasons a queued send is held for: a retry of the same send (same row, same key) claims it.
const (
	// ReasonPending: recorded before its first attempt (an admin resend, whose id is returned
	// at once).
	ReasonPending = "pending"
	// ReasonOutcomeUnknown: the provider call ended without an answer, so the provider may have
	// accepted it; the retry goes with the same provider idempotency key and Message-ID.
	ReasonOutcomeUnknown = "outcome_unknown"
)

// SendByIdempotencyKey returns the send holding a key; inFlight bounds how long a send may be
// in flight (Stale).
func SendByIdempotencyKey(ctx context.Context, db DBTX, key string, inFlight time.Duration) (HeldSend, error) {
	var h HeldSend
	err := db.QueryRow(ctx, `SELECT id::text, status::text, coalesce(status_reason, ''), coalesce(user_id, ''),
			status = 'queued' AND status_reason IS NULL AND updated_at < now() - make_interval(secs => $2)
		FROM email_sends WHERE idempotency_key = $1`, key, inFlight.Seconds()).Scan(&h.ID, &h.Status, &h.Reason, &h.UserID, &h.Stale)
	return h, interpret(err)
}

// ClaimStaleSend takes a queued send whose sender died mid-send (untouched for longer than
// inFlight) for one more attempt: of concurrent callers exactly one gets true.
func ClaimStaleSend(ctx context.Context, db DBTX, id string, inFlight time.Duration) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE email_sends SET updated_at = now()
		WHERE id = $1 AND status = 'queued' AND status_reason IS NULL AND updated_at < now() - make_interval(secs => $2)`,
		id, inFlight.Seconds())
	return tag.RowsAffected() == 1, err
}

// HoldSend holds a queued send for a retry of the same send, for reason.
func HoldSend(ctx context.Context, db DBTX, id, reason string) error {
	_, err := db.Exec(ctx, `UPDATE email_sends SET status_reason = $2, updated_at = now()
		WHERE id = $1 AND status = 'queued'`, id, reason)
	return err
}

// ClaimHeldSend takes a queued send held for reason for one attempt: of concurrent callers
// exactly one gets true.
func ClaimHeldSend(ctx context.Context, db DBTX, id, reason string) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE email_sends SET status_reason = NULL, updated_at = now()
		WHERE id = $1 AND status = 'queued' AND status_reason = $2`, id, reason)
	return tag.RowsAffected() == 1, err
}

// RearmSend puts a send the provider refused back to pending under key, so a retry of the
// same send reuses its row. It reports whether the row was refused and is now pending.
func RearmSend(ctx context.Context, db DBTX, id, key string) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE email_sends SET status = 'queued', status_reason = $3, idempotency_key = $2,
		updated_at = now() WHERE id = $1 AND status = 'failed' AND status_reason = $4 AND idempotency_key IS NULL`,
		id, key, ReasonPending, ReasonProviderError)
	return tag.RowsAffected() == 1, err
}

// AddTrackedLinks writes the tracked links of an existing send; links it already has stay.
func AddTrackedLinks(ctx context.Context, db DBTX, sendID string, links []TrackedLink) error {
	if len(links) == 0 {
		return nil
	}
	ids, urls := make([]string, len(links)), make([]string, len(links))
	for i, l := range links {
		ids[i], urls[i] = l.ID, l.URL
	}
	_, err := db.Exec(ctx, `INSERT INTO tracked_links (id, email_send_id, original_url)
		SELECT u.id::uuid, $1::uuid, u.url FROM unnest($2::text[], $3::text[]) AS u(id, url)
		ON CONFLICT (id) DO NOTHING`, sendID, ids, urls)
	return err
}

// SentMark is a provider's acceptance of a send, with the outbound event it emits.
type SentMark struct {
	ID, ProviderID string
	SentAt         time.Time
	EventType      string
	Event          OutboxRow
}

// MarkSendsSent records provider acceptances in one statement. Each one's outbound event is only
// written when an enabled endpoint subscribes to its type: the fan-out would find nobody else.
func MarkSendsSent(ctx context.Context, db DBTX, marks []SentMark) error {
	n := len(marks)
	ids, pids, ats, kinds, keys, payloads, types := make([]string, n), make([]string, n), make([]time.Time, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, m := range marks {
		ids[i], pids[i], ats[i] = m.ID, m.ProviderID, m.SentAt
		kinds[i], payloads[i], types[i] = m.Event.Kind, string(m.Event.Payload), m.EventType
		if m.Event.DedupeKey != nil {
			keys[i] = *m.Event.DedupeKey
		}
	}
	_, err := db.Exec(ctx, `WITH u AS (UPDATE email_sends e SET resend_id = v.pid, status = 'sent', sent_at = v.at, updated_at = now()
			FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS v(id, pid, at) WHERE e.id = v.id RETURNING e.id)
		INSERT INTO outbox (kind, dedupe_key, payload)
		SELECT v.kind, nullif(v.key, ''), v.payload::jsonb FROM unnest($1::uuid[], $4::text[], $5::text[], $6::text[], $7::text[]) AS v(id, kind, key, payload, type)
		JOIN u ON u.id = v.id
		WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE NOT disabled AND organization_id IS NULL
			AND event_types @> jsonb_build_array(v.type))
		ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING`,
		ids, pids, ats, kinds, keys, payloads, types)
	return err
}

// ReasonProviderError is the reason of a send the provider refused.
const ReasonProviderError = "provider_error"

// MarkSendFailed fails a send known not to have been accepted (refused by the provider, or
// blocked before it) and releases its idempotency key, so a retry really sends; the Message-ID
// it would have had is no provider's id.
func MarkSendFailed(ctx context.Context, db DBTX, id, reason string) error {
	_, err := db.Exec(ctx, `UPDATE email_sends SET status = 'failed', status_reason = $2,
		idempotency_key = NULL, resend_id = NULL, updated_at = now() WHERE id = $1`, id, reason)
	return err
}

// RecipientGate is what the send-time checks need to know about a recipient: every preference
// row of the address folded into one, the sends counted against a frequency cap, and (when
// asked) the contact the address belongs to.
type RecipientGate struct {
	Suppressed      bool
	UnsubscribedAll bool
	Categories      map[string]bool
	RecentSends     int
	Contact         *Recipient // nil when not asked for or not found
}

// CapWindow asks RecipientCheck to count recent non-failed sends (of one category when set).
type CapWindow struct {
	Window   time.Duration
	Category string
}

// RecipientQuery asks for one address's gate: its cap window (nil = no cap) and, with Resolve,
// its contact.
type RecipientQuery struct {
	Email   string
	Cap     *CapWindow
	Resolve bool
}

// RecipientChecks answers many RecipientQuery at once, in order, in one round trip. For each
// address it folds the preference rows (suppressed or unsubscribed if any row is; a category
// false if any row says false, else true if one says true), counts its non-failed, attempted sends in the
// cap window (of one category when set) and finds its contact as RecipientByEmail does.
func RecipientChecks(ctx context.Context, db DBTX, qs []RecipientQuery) ([]RecipientGate, error) {
	n := len(qs)
	emails, windows, categories, resolve := make([]string, n), make([]*time.Duration, n), make([]*string, n), make([]bool, n)
	for i, q := range qs {
		emails[i], resolve[i] = q.Email, q.Resolve
		if q.Cap != nil {
			windows[i] = &q.Cap.Window
			categories[i] = ptr.NonZero(q.Cap.Category)
		}
	}
	rows, err := db.Query(ctx, `SELECT g.* FROM unnest($1::text[], $2::interval[], $3::text[], $4::bool[]) WITH ORDINALITY
			AS q(email, win, category, resolve, n)
		CROSS JOIN LATERAL (
			WITH p AS (SELECT suppressed, unsubscribed_all, categories FROM email_preferences WHERE lower(email) = lower(q.email)),
			r AS (`+strings.ReplaceAll(recipientByEmailSQL, "$1", "q.email")+`)
			SELECT coalesce(bool_or(suppressed), false), coalesce(bool_or(unsubscribed_all), false),
				(SELECT coalesce(jsonb_object_agg(key, flag), '{}'::jsonb) FROM
					(SELECT key, bool_and(value = 'true') AS flag FROM p, jsonb_each_text(coalesce(p.categories, '{}'::jsonb)) GROUP BY key) c),
				CASE WHEN q.win IS NULL THEN 0 ELSE (SELECT count(*) FROM email_sends
					WHERE to_email = lower(q.email) AND created_at >= now() - q.win AND status <> 'failed'
						AND status_reason IS DISTINCT FROM 'pending'
						AND (q.category IS NULL OR category = q.category)) END,
				(SELECT id FROM r WHERE q.resolve), (SELECT external_id FROM r WHERE q.resolve), (SELECT email FROM r WHERE q.resolve)
			FROM p) g
		ORDER BY q.n`, emails, windows, categories, resolve)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]RecipientGate, 0, n)
	for rows.Next() {
		var g RecipientGate
		var contactID, externalID, contactEmail *string
		if err := rows.Scan(&g.Suppressed, &g.UnsubscribedAll, &g.Categories, &g.RecentSends, &contactID, &externalID, &contactEmail); err != nil {
			return nil, err
		}
		if contactID != nil {
			g.Contact = &Recipient{ID: *contactID, ExternalID: externalID, Email: contactEmail}
		}
		out = append(out, g)
	}
	return out, rows.Err()
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
	SendID      string
	URL         string
	First       bool // the send's first click
	FirstOnLink bool // this link's first click
}

// RecordClick counts a click on a tracked link, stores who clicked and stamps the send's first
// click, in one statement. ErrNotFound for an unknown link.
func RecordClick(ctx context.Context, db DBTX, linkID string, ip, userAgent *string) (Click, error) {
	var c Click
	err := db.QueryRow(ctx, `WITH l AS (UPDATE tracked_links SET click_count = click_count + 1, updated_at = now()
			WHERE id = $1 RETURNING id, email_send_id, original_url, click_count),
		c AS (INSERT INTO link_clicks (tracked_link_id, ip_address, user_agent) SELECT id, $2, $3 FROM l),
		s AS (UPDATE email_sends SET clicked_at = now(), updated_at = now()
			WHERE id = (SELECT email_send_id FROM l) AND clicked_at IS NULL RETURNING id)
		SELECT l.email_send_id::text, l.original_url, EXISTS (SELECT 1 FROM s), l.click_count = 1 FROM l`, linkID, ip, userAgent).
		Scan(&c.SendID, &c.URL, &c.First, &c.FirstOnLink)
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
	return scanRecipient(db.QueryRow(ctx, recipientByEmailSQL, addr))
}

// recipientByEmailSQL finds the live contact of the address $1, directly or through an alias.
const recipientByEmailSQL = `(SELECT id::text AS id, external_id, email FROM contacts
			WHERE deleted_at IS NULL AND lower(email) = lower($1) LIMIT 1)
		UNION ALL
		(SELECT c.id::text, c.external_id, c.email FROM contact_aliases a JOIN contacts c ON c.id = a.contact_id
			WHERE c.deleted_at IS NULL AND a.alias_kind = 'email' AND a.alias_value = lower($1) LIMIT 1)
		LIMIT 1`

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

// TakenKeys returns which of keys a send holds already.
func TakenKeys(ctx context.Context, db DBTX, keys []string) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT idempotency_key FROM email_sends WHERE idempotency_key = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	taken, err := pgx.CollectRows(rows, pgx.RowTo[string])
	out := make(map[string]bool, len(taken))
	for _, k := range taken {
		out[k] = true
	}
	return out, err
}
