package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Contact is a contacts row.
type Contact struct {
	ID          string
	ExternalID  *string
	Email       *string
	AnonymousID *string
	Timezone    *string
	Properties  map[string]any
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Key is the contact's canonical user key: external id, else anonymous id, else its uuid. History
// tables store this string.
func (c Contact) Key() string {
	switch {
	case c.ExternalID != nil:
		return *c.ExternalID
	case c.AnonymousID != nil:
		return *c.AnonymousID
	}
	return c.ID
}

// PreferenceKey is the user key of email_preferences rows: external id, else uuid.
func (c Contact) PreferenceKey() string {
	if c.ExternalID != nil {
		return *c.ExternalID
	}
	return c.ID
}

// IdentityKind names an identity column.
type IdentityKind string

// Identity kinds, as stored in contact_aliases.alias_kind.
const (
	KindExternal  IdentityKind = "external"
	KindEmail     IdentityKind = "email"
	KindAnonymous IdentityKind = "anonymous"
)

func (k IdentityKind) column() string {
	switch k {
	case KindExternal:
		return "external_id"
	case KindEmail:
		return "email"
	case KindAnonymous:
		return "anonymous_id"
	}
	panic("unknown identity kind " + string(k))
}

const contactColumns = `id::text, external_id, email, anonymous_id, timezone, coalesce(properties, '{}'::jsonb),
	first_seen_at, last_seen_at, created_at, updated_at`

func scanContact(row pgx.Row) (Contact, error) {
	var c Contact
	err := row.Scan(&c.ID, &c.ExternalID, &c.Email, &c.AnonymousID, &c.Timezone, &c.Properties,
		&c.FirstSeenAt, &c.LastSeenAt, &c.CreatedAt, &c.UpdatedAt)
	return c, interpret(err)
}

func collectContacts(rows pgx.Rows, err error) ([]Contact, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Contact, error) { return scanContact(r) })
}

// LockIdentities takes transaction-scoped advisory locks on "<kind>:<value>" strings, so
// concurrent resolutions of the same key serialise instead of creating duplicates. Keys that are
// only read (events of a contact that does not change) may be locked shared: they then wait only
// for a resolution that changes the contact, not for each other. All locks are taken in one
// statement in lock-id order, so no caller (a single event or a whole batch) can deadlock another.
func LockIdentities(ctx context.Context, tx pgx.Tx, exclusive, shared []string) error {
	if len(exclusive)+len(shared) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, lockIdentitiesSQL, exclusive, shared); err != nil {
		return fmt.Errorf("lock identities: %w", err)
	}
	return nil
}

const lockIdentitiesSQL = `SELECT CASE WHEN x THEN pg_advisory_xact_lock(h)::text ELSE pg_advisory_xact_lock_shared(h)::text END
	FROM (SELECT h, bool_or(x) AS x FROM (
		SELECT hashtext(k) AS h, true AS x FROM unnest($1::text[]) AS k
		UNION ALL SELECT hashtext(k), false FROM unnest($2::text[]) AS k) keys
	GROUP BY h ORDER BY h) ids`

// IdentityKey is one identity key with its kind.
type IdentityKey struct {
	Kind  IdentityKind
	Value string
}

// LockAndFindIdentities takes exclusive locks as LockIdentities does, then looks each key up as
// ContactByIdentity does (nil: not found), in one round trip. Each lookup is a statement of its
// own after the lock, so it sees what the lock's previous holder committed.
func LockAndFindIdentities(ctx context.Context, tx pgx.Tx, locks []string, keys []IdentityKey) ([]*Contact, error) {
	b := &pgx.Batch{}
	b.Queue(lockIdentitiesSQL, locks, []string(nil))
	found := make([]*Contact, len(keys))
	for i, k := range keys {
		b.Queue(contactByIdentitySQL(k.Kind), k.Value, string(k.Kind)).QueryRow(func(row pgx.Row) error {
			c, err := scanContact(row)
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("look up %s: %w", k.Kind, err)
			}
			found[i] = &c
			return nil
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("lock and look up identities: %w", err)
	}
	return found, nil
}

// ContactByIdentity finds the live contact holding the key, falling back to an alias pointing
// at a live contact; ErrNotFound when neither exists.
func ContactByIdentity(ctx context.Context, db DBTX, kind IdentityKind, value string) (Contact, error) {
	return scanContact(db.QueryRow(ctx, contactByIdentitySQL(kind), value, string(kind)))
}

// contactByIdentitySQL looks a key up in the live contacts' unique index of its kind (email
// by lower(email), as that index is), then in the aliases; either way the contact by its id.
func contactByIdentitySQL(kind IdentityKind) string {
	match := kind.column() + ` = $1`
	if kind == KindEmail {
		match = `lower(email) = lower($1) AND email IS NOT NULL`
	}
	return `SELECT ` + contactColumns + ` FROM contacts
		WHERE deleted_at IS NULL AND id = coalesce(
			(SELECT id FROM contacts WHERE ` + match + ` AND deleted_at IS NULL LIMIT 1),
			(SELECT contact_id FROM contact_aliases WHERE alias_kind = $2 AND alias_value = $1))`
}

// NewContact holds the keys and properties of a contact to create.
type NewContact struct {
	ExternalID, Email, AnonymousID *string
	Properties                     map[string]any // nil = {}
}

// InsertContact creates a contact; null-valued properties are dropped.
func InsertContact(ctx context.Context, db DBTX, n NewContact) (Contact, error) {
	return scanContact(db.QueryRow(ctx, insertContactSQL, n.args()...))
}

// InsertContacts creates contacts as InsertContact does, in one round trip.
func InsertContacts(ctx context.Context, tx pgx.Tx, ns []NewContact) ([]Contact, error) {
	b := &pgx.Batch{}
	out := make([]Contact, len(ns))
	for i, n := range ns {
		b.Queue(insertContactSQL, n.args()...).QueryRow(func(row pgx.Row) error {
			var err error
			out[i], err = scanContact(row)
			return err
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, interpret(err)
	}
	return out, nil
}

const insertContactSQL = `INSERT INTO contacts (external_id, email, anonymous_id, properties)
	VALUES ($1, $2, $3, jsonb_strip_nulls($4::jsonb)) RETURNING ` + contactColumns

func (n NewContact) args() []any {
	props := n.Properties
	if props == nil {
		props = map[string]any{}
	}
	return []any{n.ExternalID, n.Email, n.AnonymousID, props}
}

// FillContact sets the keys the contact lacks (never replacing one it has), merges the patch
// into its properties (null removes a key) and marks it seen now.
func FillContact(ctx context.Context, db DBTX, id string, keys NewContact, patch map[string]any) (Contact, error) {
	var p any
	if len(patch) > 0 {
		p = patch
	}
	return scanContact(db.QueryRow(ctx, `UPDATE contacts SET
			external_id = coalesce(external_id, $2), email = coalesce(email, $3), anonymous_id = coalesce(anonymous_id, $4),
			properties = CASE WHEN $5::jsonb IS NULL THEN properties
				ELSE jsonb_strip_nulls(coalesce(properties, '{}'::jsonb) || $5::jsonb) END,
			last_seen_at = now(), updated_at = now()
		WHERE id = $1 RETURNING `+contactColumns, id, keys.ExternalID, keys.Email, keys.AnonymousID, p))
}

// ReplaceMergedContact writes the result of a merge onto the survivor.
func ReplaceMergedContact(ctx context.Context, db DBTX, c Contact) (Contact, error) {
	return scanContact(db.QueryRow(ctx, `UPDATE contacts SET
			external_id = $2, email = $3, anonymous_id = $4, timezone = $5, properties = $6,
			first_seen_at = $7, last_seen_at = now(), updated_at = now()
		WHERE id = $1 RETURNING `+contactColumns,
		c.ID, c.ExternalID, c.Email, c.AnonymousID, c.Timezone, c.Properties, c.FirstSeenAt))
}

// SoftDeleteContacts marks contacts deleted.
func SoftDeleteContacts(ctx context.Context, db DBTX, ids []string) error {
	_, err := db.Exec(ctx, `UPDATE contacts SET deleted_at = now(), updated_at = now()
		WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, ids)
	return err
}

// UpsertAlias points a stale key at a contact. A merge alias takes over an existing one (the
// most recent merge wins); a promote alias never replaces one.
func UpsertAlias(ctx context.Context, db DBTX, contactID string, kind IdentityKind, value string, fromContact *string, reason string) error {
	q := `INSERT INTO contact_aliases (contact_id, alias_kind, alias_value, from_contact_id, reason)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alias_kind, alias_value) DO NOTHING`
	if reason == "merge" {
		q = `INSERT INTO contact_aliases (contact_id, alias_kind, alias_value, from_contact_id, reason)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (alias_kind, alias_value) DO UPDATE
		SET contact_id = EXCLUDED.contact_id, from_contact_id = EXCLUDED.from_contact_id, reason = 'merge', updated_at = now()`
	}
	_, err := db.Exec(ctx, q, contactID, string(kind), value, fromContact, reason)
	return err
}

// FindContacts returns live contacts with this email or external id (no alias fallback).
func FindContacts(ctx context.Context, db DBTX, email, externalID *string) ([]Contact, error) {
	return collectContacts(db.Query(ctx, `SELECT `+contactColumns+` FROM contacts
		WHERE deleted_at IS NULL AND (email = $1 OR external_id = $2) ORDER BY created_at, id`, email, externalID))
}

// SoftDeleteContactsByIdentity soft-deletes every live contact with this email or external id
// and returns them.
func SoftDeleteContactsByIdentity(ctx context.Context, db DBTX, email, externalID *string) ([]Contact, error) {
	return collectContacts(db.Query(ctx, `UPDATE contacts SET deleted_at = now(), updated_at = now()
		WHERE deleted_at IS NULL AND (email = $1 OR external_id = $2) RETURNING `+contactColumns, email, externalID))
}

// jsonObject renders a map for a jsonb parameter.
func jsonObject(m map[string]any) []byte {
	if m == nil {
		return []byte("{}")
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("marshal jsonb: %v", err)) // maps decoded from JSON always re-encode
	}
	return b
}

// ContactFilter selects live contacts for the admin list and export: a case-insensitive
// substring of email, external id or anonymous id.
type ContactFilter struct {
	Search string
}

const contactSearch = `deleted_at IS NULL AND ($1 = '' OR email ILIKE '%' || $1 || '%' OR external_id ILIKE '%' || $1 || '%'
	OR anonymous_id ILIKE '%' || $1 || '%')`

// ListContacts pages live contacts, most recently seen first, with the total count.
func ListContacts(ctx context.Context, db DBTX, f ContactFilter, limit, offset int) ([]Contact, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE `+contactSearch, f.Search).Scan(&total); err != nil {
		return nil, 0, err
	}
	list, err := collectContacts(db.Query(ctx, `SELECT `+contactColumns+` FROM contacts WHERE `+contactSearch+`
		ORDER BY last_seen_at DESC, id LIMIT $2 OFFSET $3`, f.Search, limit, offset))
	return list, total, err
}

// EachContactForExport streams live contacts, newest first, up to limit.
func EachContactForExport(ctx context.Context, db DBTX, f ContactFilter, limit int, fn func(Contact) error) error {
	rows, err := db.Query(ctx, `SELECT `+contactColumns+` FROM contacts WHERE `+contactSearch+`
		ORDER BY created_at DESC, id LIMIT $2`, f.Search, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c, err := scanContact(rows)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// LiveContactByID finds a live contact by uuid.
func LiveContactByID(ctx context.Context, db DBTX, id string) (Contact, error) {
	return scanContact(db.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts WHERE id = $1 AND deleted_at IS NULL`, id))
}

// LiveContactByExternalID finds a live contact by external id (no alias fallback).
func LiveContactByExternalID(ctx context.Context, db DBTX, externalID string) (Contact, error) {
	return scanContact(db.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts WHERE external_id = $1 AND deleted_at IS NULL`, externalID))
}

// LiveContactByKey finds the live contact whose canonical key is key.
func LiveContactByKey(ctx context.Context, db DBTX, key string) (Contact, error) {
	return scanContact(db.QueryRow(ctx, `SELECT `+contactColumns+` FROM contacts
		WHERE deleted_at IS NULL AND (external_id = $1 OR (external_id IS NULL AND anonymous_id = $1)
			OR (external_id IS NULL AND anonymous_id IS NULL AND id::text = $1)) LIMIT 1`, key))
}

// PatchContactProperties merges a patch into a contact with no identity keys.
func PatchContactProperties(ctx context.Context, db DBTX, id string, patch map[string]any) (Contact, error) {
	return scanContact(db.QueryRow(ctx, `UPDATE contacts SET properties = jsonb_strip_nulls(coalesce(properties, '{}'::jsonb) || $2::jsonb),
		updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING `+contactColumns, id, patch))
}
