package store

import "context"

// SetCategoryFlags sets list/category flags on the preference row of (user key, email),
// creating it when absent; other flags are kept.
func SetCategoryFlags(ctx context.Context, db DBTX, userKey, email string, flags map[string]bool) error {
	_, err := db.Exec(ctx, `INSERT INTO email_preferences (user_id, email, categories) VALUES ($1, $2, $3)
		ON CONFLICT (user_id, email) DO UPDATE
		SET categories = coalesce(email_preferences.categories, '{}'::jsonb) || EXCLUDED.categories, updated_at = now()`,
		userKey, email, flags)
	return err
}
