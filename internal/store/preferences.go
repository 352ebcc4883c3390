package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// SetCategoryFlags sets list/category flags on the preference row of (user key, email),
// creating it when absent; other flags are kept.
func SetCategoryFlags(ctx context.Context, db DBTX, userKey, email string, flags map[string]bool) error {
	_, err := db.Exec(ctx, `INSERT INTO email_preferences (user_id, email, categories) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, email) DO UPDATE
		SET categories = coalesce(email_preferences.categories, '{}'::jsonb) || EXCLUDED.categories, updated_at = now()`,
		userKey, email, flags)
	return err
}

// Preferences is an email_preferences row.
type Preferences struct {
	ID              string
	UserID          string
	Email           string
	UnsubscribedAll bool
	Suppressed      bool
	BounceCount     int
	Categories      map[string]bool
	SuppressedAt    *time.Time
	LastBounceAt    *time.Time
}

const preferenceColumns = `id::text, user_id, email, unsubscribed_all, suppressed, bounce_count, coalesce(categories, '{}'::jsonb),
	suppressed_at, last_bounce_at`

func scanPreferences(row pgx.Row) (Preferences, error) {
	var p Preferences
	err := row.Scan(&p.ID, &p.UserID, &p.Email, &p.UnsubscribedAll, &p.Suppressed, &p.BounceCount, &p.Categories, &p.SuppressedAt, &p.LastBounceAt)
	return p, interpret(err)
}

// PreferencesOf returns the first preference row of a user key.
func PreferencesOf(ctx context.Context, db DBTX, userKey string) (Preferences, error) {
	return scanPreferences(db.QueryRow(ctx, `SELECT `+preferenceColumns+` FROM email_preferences WHERE user_id = $1
		ORDER BY created_at, id LIMIT 1`, userKey))
}

// PreferencesUpdate holds the fields an admin sets; nil leaves a field as it is.
type PreferencesUpdate struct {
	UnsubscribedAll *bool
	Suppressed      *bool
	Categories      map[string]bool // nil = unchanged; replaces the whole map otherwise
}

// UpsertPreferences writes the supplied fields on (user key, email), creating the row with
// defaults for the rest. Setting suppressed stamps suppressed_at (or clears it).
func UpsertPreferences(ctx context.Context, db DBTX, userKey, email string, u PreferencesUpdate) (Preferences, error) {
	var cats any
	if u.Categories != nil {
		cats = u.Categories
	}
	return scanPreferences(db.QueryRow(ctx, `INSERT INTO email_preferences (user_id, email, unsubscribed_all, suppressed, categories, suppressed_at)
		VALUES ($1, $2, coalesce($3, false), coalesce($4, false), coalesce($5::jsonb, '{}'::jsonb), CASE WHEN $4 THEN now() END)
		ON CONFLICT (user_id, email) DO UPDATE SET
			unsubscribed_all = coalesce($3, email_preferences.unsubscribed_all),
			suppressed = coalesce($4, email_preferences.suppressed),
			suppressed_at = CASE WHEN $4 IS NULL THEN email_preferences.suppressed_at WHEN $4 THEN now() ELSE NULL END,
			categories = coalesce($5::jsonb, email_preferences.categories),
			updated_at = now()
		RETURNING `+preferenceColumns, userKey, email, u.UnsubscribedAll, u.Suppressed, cats))
}

// PreferenceChange is one opt-out or opt-in: the global flag, or one category's flag.
type PreferenceChange struct {
	UnsubscribedAll *bool
	Category        string // "" = no category change
	Subscribed      bool   // the category's new flag
}

// ApplyPreference is the one write path of unsubscribe, resubscribe and list membership: it
// creates the (user key, email) row when absent and changes only what the change names.
func ApplyPreference(ctx context.Context, db DBTX, userKey, email string, ch PreferenceChange) error {
	var category *string
	if ch.Category != "" {
		category = &ch.Category
	}
	_, err := db.Exec(ctx, `INSERT INTO email_preferences (user_id, email, unsubscribed_all, categories)
		VALUES ($1, $2, coalesce($3, false), CASE WHEN $4::text IS NULL THEN '{}'::jsonb ELSE jsonb_build_object($4::text, $5::boolean) END)
		ON CONFLICT (user_id, email) DO UPDATE SET
			unsubscribed_all = coalesce($3, email_preferences.unsubscribed_all),
			categories = CASE WHEN $4::text IS NULL THEN email_preferences.categories
				ELSE jsonb_set(coalesce(email_preferences.categories, '{}'::jsonb), ARRAY[$4::text], to_jsonb($5::boolean)) END,
			updated_at = now()`, userKey, email, ch.UnsubscribedAll, category, ch.Subscribed)
	return err
}

// RecordBounce counts a bounce on every preference row of an address (creating one for userKey
// when there is none) and suppresses the address at threshold bounces, or at once when hard.
func RecordBounce(ctx context.Context, db DBTX, userKey, email string, threshold int, hard bool) error {
	_, err := db.Exec(ctx, `WITH u AS (UPDATE email_preferences SET bounce_count = bounce_count + 1, last_bounce_at = now(),
			suppressed = suppressed OR bounce_count + 1 >= $3 OR $4,
			suppressed_at = CASE WHEN NOT suppressed AND (bounce_count + 1 >= $3 OR $4) THEN now() ELSE suppressed_at END,
			updated_at = now()
			WHERE lower(email) = lower($2) RETURNING id)
		INSERT INTO email_preferences (user_id, email, bounce_count, last_bounce_at, suppressed, suppressed_at)
		SELECT $1, lower($2), 1, now(), 1 >= $3 OR $4, CASE WHEN 1 >= $3 OR $4 THEN now() END
		WHERE NOT EXISTS (SELECT 1 FROM u)
		ON CONFLICT (user_id, email) DO NOTHING`, userKey, email, threshold, hard)
	return err
}

// RecordComplaint suppresses every preference row of an address (creating one when absent).
func RecordComplaint(ctx context.Context, db DBTX, userKey, email string) error {
	_, err := db.Exec(ctx, `WITH u AS (UPDATE email_preferences SET suppressed = true, suppressed_at = now(), updated_at = now()
			WHERE lower(email) = lower($2) RETURNING id)
		INSERT INTO email_preferences (user_id, email, suppressed, suppressed_at)
		SELECT $1, lower($2), true, now() WHERE NOT EXISTS (SELECT 1 FROM u)
		ON CONFLICT (user_id, email) DO NOTHING`, userKey, email)
	return err
}

// PreferencesFor returns the preference row of exactly (user key, email); ErrNotFound if none.
func PreferencesFor(ctx context.Context, db DBTX, userKey, email string) (Preferences, error) {
	return scanPreferences(db.QueryRow(ctx, `SELECT `+preferenceColumns+` FROM email_preferences
		WHERE user_id = $1 AND email = $2`, userKey, email))
}

// Suppression filters of the admin suppressions list.
const (
	SuppressionBounced      = "bounced"
	SuppressionUnsubscribed = "unsubscribed"
	SuppressionComplained   = "complained"
)

// ListSuppressions pages preference rows, newest change first; kind "" lists every row.
func ListSuppressions(ctx context.Context, db DBTX, kind string, limit, offset int) ([]Preferences, int, error) {
	where := map[string]string{
		"":                      "true",
		SuppressionBounced:      "bounce_count > 0",
		SuppressionUnsubscribed: "unsubscribed_all",
		SuppressionComplained:   "suppressed AND bounce_count = 0",
	}[kind]
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM email_preferences WHERE `+where).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT `+preferenceColumns+` FROM email_preferences WHERE `+where+`
		ORDER BY updated_at DESC, id LIMIT $1 OFFSET $2`, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []Preferences{}
	for rows.Next() {
		p, err := scanPreferences(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, p)
	}
	return out, total, rows.Err()
}

// RecordProviderEvent marks a provider webhook delivery processed; false when it already was.
func RecordProviderEvent(ctx context.Context, db DBTX, id, provider, eventType string) (bool, error) {
	tag, err := db.Exec(ctx, `INSERT INTO provider_webhook_events (id, provider, type) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, id, provider, eventType)
	return tag.RowsAffected() == 1, err
}
