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
