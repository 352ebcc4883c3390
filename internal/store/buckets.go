package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Membership is a contact's row in a bucket.
type Membership struct {
	ID         string
	UserID     string // the contact key
	UserEmail  *string
	EnteredAt  time.Time
	EntryCount int
}

// NewMembership is a join to write.
type NewMembership struct {
	UserKey, BucketID string
	UserEmail         string // "" = NULL
	Source            string // event | reconcile | backfill
	ExpiresAt         *time.Time
	MaxDwellAt        *time.Time
	Now               time.Time
}

// Joined is a written join: its row, its epoch and what the entry-limit gate needs to know.
type Joined struct {
	ID          string
	EntryCount  int        // 1 + every earlier row of (user, bucket), whatever their status
	LastLeaveAt *time.Time // the latest leave of an earlier row
}

// JoinBucket writes an active row; ok is false when one exists already (a concurrent join won).
func JoinBucket(ctx context.Context, db DBTX, j NewMembership) (out Joined, ok bool, err error) {
	err = db.QueryRow(ctx, `WITH prior AS (
			SELECT count(*) AS n, max(left_at) FILTER (WHERE status = 'left') AS last_left
			FROM bucket_memberships WHERE user_id = $1 AND bucket_id = $2)
		INSERT INTO bucket_memberships (user_id, user_email, bucket_id, status, entered_at, last_evaluated_at,
			entry_count, source, expires_at, max_dwell_at)
		SELECT $1, nullif($3, ''), $2, 'active', $4, $4, prior.n + 1, $5, $6, $7 FROM prior
		ON CONFLICT (user_id, bucket_id) WHERE status = 'active' AND deleted_at IS NULL DO NOTHING
		RETURNING id::text, entry_count, (SELECT last_left FROM prior)`,
		j.UserKey, j.BucketID, j.UserEmail, j.Now, j.Source, j.ExpiresAt, j.MaxDwellAt).
		Scan(&out.ID, &out.EntryCount, &out.LastLeaveAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return out, false, nil
	}
	return out, err == nil, err
}

// LeaveBucket flips an active row to left (compare and swap); ok false when it is not active.
func LeaveBucket(ctx context.Context, db DBTX, id string, now time.Time) (m Membership, ok bool, err error) {
	err = db.QueryRow(ctx, `UPDATE bucket_memberships SET status = 'left', left_at = $2, last_evaluated_at = $2, updated_at = $2
		WHERE id = $1 AND status = 'active' RETURNING id::text, user_id, user_email, entered_at, entry_count`, id, now).
		Scan(&m.ID, &m.UserID, &m.UserEmail, &m.EnteredAt, &m.EntryCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	return m, err == nil, err
}

// DeferLeave keeps a too-young member until (minDwell): the sweep or a later event leaves it.
func DeferLeave(ctx context.Context, db DBTX, id string, until, now time.Time) error {
	_, err := db.Exec(ctx, `UPDATE bucket_memberships SET expires_at = $2, last_evaluated_at = $3, updated_at = $3
		WHERE id = $1 AND status = 'active'`, id, until, now)
	return err
}

// TouchMembership records that a member was evaluated and still matches.
func TouchMembership(ctx context.Context, db DBTX, id string, now time.Time) error {
	_, err := db.Exec(ctx, `UPDATE bucket_memberships SET last_evaluated_at = $2 WHERE id = $1`, id, now)
	return err
}

// BucketCounts are a bucket's rows by status (not joined to contacts: soft-deleted contacts'
// rows count).
type BucketCounts struct {
	Active int `json:"active"`
	Left   int `json:"left"`
}

// CountMemberships counts every bucket's live rows by status.
func CountMemberships(ctx context.Context, db DBTX) (map[string]BucketCounts, error) {
	rows, err := db.Query(ctx, `SELECT bucket_id, count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'left')
		FROM bucket_memberships WHERE deleted_at IS NULL GROUP BY bucket_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]BucketCounts{}
	for rows.Next() {
		var id string
		var c BucketCounts
		if err := rows.Scan(&id, &c.Active, &c.Left); err != nil {
			return nil, err
		}
		out[id] = c
	}
	return out, rows.Err()
}

// BucketSwitches are the admin switches that exist (bucket id → enabled).
func BucketSwitches(ctx context.Context, db DBTX) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT bucket_id, enabled FROM bucket_configs`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		var on bool
		if err := rows.Scan(&id, &on); err != nil {
			return nil, err
		}
		out[id] = on
	}
	return out, rows.Err()
}

// SetBucketEnabled upserts a bucket's admin switch (a new row leaves criteria_hash NULL).
func SetBucketEnabled(ctx context.Context, db DBTX, bucketID string, enabled bool) (time.Time, error) {
	var at time.Time
	err := db.QueryRow(ctx, `INSERT INTO bucket_configs (bucket_id, enabled) VALUES ($1, $2)
		ON CONFLICT (bucket_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now() RETURNING updated_at`,
		bucketID, enabled).Scan(&at)
	return at, err
}

// MemberRow is a membership as admin shows it.
type MemberRow struct {
	ID, UserID, BucketID, Status       string
	UserEmail, Source                  *string
	EnteredAt, CreatedAt, UpdatedAt    time.Time
	LeftAt, ExpiresAt, LastEvaluatedAt *time.Time
	EntryCount                         int
	Context                            map[string]any
}

// MemberFilter narrows a bucket's member list.
type MemberFilter struct {
	BucketID, Status string
	UserID           string // "" = every contact
}

// Members pages a bucket's rows of one status, newest entry first, with the filter's total.
func Members(ctx context.Context, db DBTX, f MemberFilter, limit, offset int) ([]MemberRow, int, error) {
	const where = ` FROM bucket_memberships WHERE bucket_id = $1 AND status = $2::bucket_membership_status AND deleted_at IS NULL
		AND ($3 = '' OR user_id = $3)`
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*)`+where, f.BucketID, f.Status, f.UserID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT id::text, user_id, user_email, bucket_id, status::text, entered_at, left_at, expires_at,
			last_evaluated_at, entry_count, source, coalesce(context, '{}'::jsonb), created_at, updated_at`+where+`
		ORDER BY entered_at DESC, id LIMIT $4 OFFSET $5`, f.BucketID, f.Status, f.UserID, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (MemberRow, error) {
		var m MemberRow
		err := r.Scan(&m.ID, &m.UserID, &m.UserEmail, &m.BucketID, &m.Status, &m.EnteredAt, &m.LeftAt, &m.ExpiresAt,
			&m.LastEvaluatedAt, &m.EntryCount, &m.Source, &m.Context, &m.CreatedAt, &m.UpdatedAt)
		return m, err
	})
	return list, total, err
}

// contactKey is the contact key expression of contacts row k. The sweep's and the backfill's
// reads lock their contacts FOR SHARE for the transaction that evaluates and writes: an ingest
// changing one of them waits (or is waited for), so no verdict is written over a newer one.
const contactKey = `coalesce(k.external_id, k.anonymous_id, k.id::text)`

// Member is an active membership the sweep looks at, with its contact's properties.
type Member struct {
	ID, UserKey string
	EnteredAt   time.Time
	EntryCount  int
	Properties  map[string]any // MembersToEvaluate
	DwellState  map[string]string
	Anchor      time.Time // dwell anchor: the backfilled one, else the join
}

// uuidCursor is a keyset cursor over uuid ids: empty starts before the first. A plain id > $n
// (no OR with an empty-cursor test) keeps every page one index range scan.
func uuidCursor(after string) string {
	if after == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return after
}

// ActiveMembersAfter pages a bucket's active rows by membership id, after afterID (contacts
// not joined: the caller locks and filters them, see LiveContactsOfKeys).
func ActiveMembersAfter(ctx context.Context, db DBTX, bucketID, afterID string, limit int) ([]Member, error) {
	rows, err := db.Query(ctx, `SELECT m.id::text, m.user_id FROM bucket_memberships m
		WHERE m.bucket_id = $1 AND m.status = 'active' AND m.deleted_at IS NULL AND m.id > $2::uuid
		ORDER BY m.id LIMIT $3`, bucketID, uuidCursor(afterID), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		return m, r.Scan(&m.ID, &m.UserKey)
	})
}

// MembersToEvaluate are up to limit active members of live contacts, least recently evaluated
// first, with their contact's properties.
func MembersToEvaluate(ctx context.Context, db DBTX, bucketID string, limit int) ([]Member, error) {
	rows, err := db.Query(ctx, `SELECT m.id::text, m.user_id, coalesce(k.properties, '{}'::jsonb)
		FROM bucket_memberships m JOIN contacts k ON `+contactKey+` = m.user_id AND k.deleted_at IS NULL
		WHERE m.bucket_id = $1 AND m.status = 'active' AND m.deleted_at IS NULL
		ORDER BY m.last_evaluated_at ASC NULLS FIRST, m.id LIMIT $2 FOR SHARE OF k`, bucketID, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		return m, r.Scan(&m.ID, &m.UserKey, &m.Properties)
	})
}

// TouchMemberships records that members were evaluated (the sweep's cursor advances).
func TouchMemberships(ctx context.Context, db DBTX, ids []string, now time.Time) error {
	_, err := db.Exec(ctx, `UPDATE bucket_memberships SET last_evaluated_at = $2 WHERE id = ANY($1::uuid[])`, ids, now)
	return err
}

// LeaveMembers flips active rows of a bucket to left, sparing those younger than minDwell; it
// returns the rows it flipped.
func LeaveMembers(ctx context.Context, db DBTX, bucketID string, ids []string, minDwell time.Duration, now time.Time) ([]Membership, error) {
	rows, err := db.Query(ctx, `UPDATE bucket_memberships SET status = 'left', left_at = $3, last_evaluated_at = $3, updated_at = $3
		WHERE bucket_id = $1 AND id = ANY($2::uuid[]) AND status = 'active' AND deleted_at IS NULL
			AND entered_at <= $3::timestamptz - make_interval(secs => $4)
		RETURNING id::text, user_id, user_email, entered_at, entry_count`, bucketID, ids, now, minDwell.Seconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		return m, r.Scan(&m.ID, &m.UserID, &m.UserEmail, &m.EnteredAt, &m.EntryCount)
	})
}

// OverstayedMembers are up to limit active members of live contacts whose max dwell passed.
func OverstayedMembers(ctx context.Context, db DBTX, bucketID string, now time.Time, limit int) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT m.id::text FROM bucket_memberships m
		JOIN contacts k ON `+contactKey+` = m.user_id AND k.deleted_at IS NULL
		WHERE m.bucket_id = $1 AND m.status = 'active' AND m.deleted_at IS NULL AND m.max_dwell_at <= $2
		ORDER BY m.max_dwell_at LIMIT $3`, bucketID, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LapsedContacts are up to limit live contacts, by id, that fired event at some time but not
// since cutoff, and are not active members of the bucket: the clock made them match an absence
// bucket. Returned as their contacts.
func LapsedContacts(ctx context.Context, db DBTX, bucketID, event string, cutoff time.Time, limit int) ([]Contact, error) {
	return collectContacts(db.Query(ctx, `SELECT `+contactColumns+` FROM contacts k
		WHERE k.deleted_at IS NULL
			AND EXISTS (SELECT 1 FROM user_events e WHERE e.user_id = `+contactKey+` AND e.event = $2)
			AND NOT EXISTS (SELECT 1 FROM user_events e WHERE e.user_id = `+contactKey+` AND e.event = $2 AND e.occurred_at >= $3)
			AND NOT EXISTS (SELECT 1 FROM bucket_memberships m WHERE m.user_id = `+contactKey+` AND m.bucket_id = $1
				AND m.status = 'active' AND m.deleted_at IS NULL)
		ORDER BY k.id LIMIT $4 FOR SHARE`, bucketID, event, cutoff, limit))
}

// BackfillDone reports whether a bucket's first-time backfill completed (its criteria hash is
// stored and no backfill job is pending): the sweep's joins and dwell wait for it.
func BackfillDone(ctx context.Context, db DBTX, bucketID string) (bool, error) {
	var done bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bucket_configs WHERE bucket_id = $1 AND criteria_hash IS NOT NULL)
		AND NOT EXISTS (SELECT 1 FROM import_jobs WHERE file_name = $1 AND format = 'bucket-backfill'
			AND status IN ('pending', 'processing'))`, bucketID).Scan(&done)
	return done, err
}

// DwellCandidates are up to limit active members of live contacts whose anchor (backfilled,
// else the join) is at least offset before instant, least recently evaluated first.
func DwellCandidates(ctx context.Context, db DBTX, bucketID string, instant time.Time, offset time.Duration, limit int) ([]Member, error) {
	rows, err := db.Query(ctx, `SELECT m.id::text, m.user_id, m.entry_count, coalesce(m.dwell_state, '{}'::jsonb),
			coalesce(m.dwell_anchor_at, m.entered_at)
		FROM bucket_memberships m JOIN contacts k ON `+contactKey+` = m.user_id AND k.deleted_at IS NULL
		WHERE m.bucket_id = $1 AND m.status = 'active' AND m.deleted_at IS NULL
			AND coalesce(m.dwell_anchor_at, m.entered_at) <= $2::timestamptz - make_interval(secs => $3)
		ORDER BY m.last_evaluated_at ASC NULLS FIRST, m.id LIMIT $4`, bucketID, instant, offset.Seconds(), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		return m, r.Scan(&m.ID, &m.UserKey, &m.EntryCount, &m.DwellState, &m.Anchor)
	})
}

// StampDwell records a dwell fire of label at instant on an active row.
func StampDwell(ctx context.Context, db DBTX, id, label string, instant, now time.Time) error {
	_, err := db.Exec(ctx, `UPDATE bucket_memberships SET dwell_state = jsonb_set(coalesce(dwell_state, '{}'::jsonb), ARRAY[$2], to_jsonb($3::text)),
		last_evaluated_at = $4, updated_at = $4 WHERE id = $1 AND status = 'active'`, id, label, instant.UTC().Format(time.RFC3339Nano), now)
	return err
}

// Bucket backfill job formats (import_jobs.format; file_name holds the bucket id).
const (
	FormatBackfill = "bucket-backfill"
	FormatReeval   = "bucket-reeval"
)

// BucketHash is the criteria hash a bucket's last backfill stored ("" = none yet).
func BucketHash(ctx context.Context, db DBTX, bucketID string) (string, error) {
	var h *string
	err := db.QueryRow(ctx, `SELECT criteria_hash FROM bucket_configs WHERE bucket_id = $1`, bucketID).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil || h == nil {
		return "", err
	}
	return *h, nil
}

// EnsureBackfillJob returns the bucket's pending or processing job of format, or creates one:
// an orphan pending job would hold the sweep's joins back forever.
func EnsureBackfillJob(ctx context.Context, db DBTX, bucketID, format string) (string, error) {
	var id string
	err := db.QueryRow(ctx, `WITH open AS (SELECT id FROM import_jobs WHERE file_name = $1 AND format = $2
			AND status IN ('pending', 'processing') ORDER BY created_at LIMIT 1),
		created AS (INSERT INTO import_jobs (file_name, format, status) SELECT $1, $2, 'pending'
			WHERE NOT EXISTS (SELECT 1 FROM open) RETURNING id)
		SELECT id::text FROM open UNION ALL SELECT id::text FROM created`, bucketID, format).Scan(&id)
	return id, err
}

// UpdateBackfillJob records a backfill job's status and counts (errors set only when failing).
func UpdateBackfillJob(ctx context.Context, db DBTX, jobID, status string, total, processed int, failure string) error {
	_, err := db.Exec(ctx, `UPDATE import_jobs SET status = $2::import_job_status, total_rows = $3, processed_rows = $4,
		errors = CASE WHEN $5 = '' THEN errors ELSE jsonb_build_array(jsonb_build_object('row', 0, 'error', $5::text)) END,
		updated_at = now() WHERE id = $1`, jobID, status, total, processed, failure)
	return err
}

// SetCriteriaHash stores the criteria a bucket's backfill matched (the switch stays).
func SetCriteriaHash(ctx context.Context, db DBTX, bucketID, hash string) error {
	_, err := db.Exec(ctx, `INSERT INTO bucket_configs (bucket_id, criteria_hash) VALUES ($1, $2)
		ON CONFLICT (bucket_id) DO UPDATE SET criteria_hash = EXCLUDED.criteria_hash, updated_at = now()`, bucketID, hash)
	return err
}

// LiveContactsPage pages live contacts by id, after afterID. (The order names the column, not
// the id::text output, which would sort instead of walking the index.)
func LiveContactsPage(ctx context.Context, db DBTX, afterID string, limit int) ([]Contact, error) {
	return collectContacts(db.Query(ctx, `SELECT `+contactColumns+` FROM contacts
		WHERE deleted_at IS NULL AND id > $1::uuid ORDER BY contacts.id LIMIT $2 FOR SHARE`, uuidCursor(afterID), limit))
}

// EventCounts counts event for each key since since (nil = all time); keys without events are
// absent.
func EventCounts(ctx context.Context, db DBTX, keys []string, event string, since *time.Time) (map[string]int, error) {
	rows, err := db.Query(ctx, `SELECT user_id, count(*) FROM user_events WHERE user_id = ANY($1) AND event = $2
		AND ($3::timestamptz IS NULL OR occurred_at >= $3) GROUP BY user_id`, keys, event, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// LastEvents is each key's latest event of a name.
func LastEvents(ctx context.Context, db DBTX, keys []string, event string) (map[string]time.Time, error) {
	rows, err := db.Query(ctx, `SELECT user_id, max(occurred_at) FROM user_events WHERE user_id = ANY($1) AND event = $2
		GROUP BY user_id`, keys, event)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var k string
		var at time.Time
		if err := rows.Scan(&k, &at); err != nil {
			return nil, err
		}
		out[k] = at
	}
	return out, rows.Err()
}

// BackfillMember is a contact a backfill adds.
type BackfillMember struct {
	UserKey, Email string
	Anchor         *time.Time // the anchor event's latest occurrence: where dwell counts from
}

// JoinSilently writes active rows (source backfill, no transition) for members that have none;
// it returns how many it wrote.
func JoinSilently(ctx context.Context, db DBTX, bucketID string, members []BackfillMember, expiresAt, maxDwellAt *time.Time, now time.Time) (int, error) {
	keys, emails, anchors := make([]string, len(members)), make([]string, len(members)), make([]*time.Time, len(members))
	for i, m := range members {
		keys[i], emails[i], anchors[i] = m.UserKey, m.Email, m.Anchor
	}
	tag, err := db.Exec(ctx, `INSERT INTO bucket_memberships (user_id, user_email, bucket_id, status, entered_at, last_evaluated_at,
			entry_count, source, expires_at, max_dwell_at, dwell_anchor_at)
		SELECT v.k, nullif(v.e, ''), $1, 'active', $5, $5,
			1 + (SELECT count(*) FROM bucket_memberships p WHERE p.user_id = v.k AND p.bucket_id = $1), 'backfill', $6, $7, v.a
		FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS v(k, e, a)
		ON CONFLICT (user_id, bucket_id) WHERE status = 'active' AND deleted_at IS NULL DO NOTHING`,
		bucketID, keys, emails, anchors, now, expiresAt, maxDwellAt)
	return int(tag.RowsAffected()), err
}

// IsMember reports whether the contact key is an active member of a bucket (a live contact).
func IsMember(ctx context.Context, db DBTX, bucketID, userKey string) (bool, error) {
	var yes bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bucket_memberships m
		JOIN contacts k ON `+contactKey+` = m.user_id AND k.deleted_at IS NULL
		WHERE m.bucket_id = $1 AND m.user_id = $2 AND m.status = 'active' AND m.deleted_at IS NULL)`, bucketID, userKey).Scan(&yes)
	return yes, err
}

// CountMembers counts a bucket's active members of live contacts.
func CountMembers(ctx context.Context, db DBTX, bucketID string) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM bucket_memberships m
		JOIN contacts k ON `+contactKey+` = m.user_id AND k.deleted_at IS NULL
		WHERE m.bucket_id = $1 AND m.status = 'active' AND m.deleted_at IS NULL`, bucketID).Scan(&n)
	return n, err
}

// MembersAfter pages a bucket's active members of live contacts by membership id, after cursor.
func MembersAfter(ctx context.Context, db DBTX, bucketID, cursor string, limit int) ([]Membership, error) {
	rows, err := db.Query(ctx, `SELECT m.id::text, m.user_id, m.user_email, m.entered_at, m.entry_count FROM bucket_memberships m
		JOIN contacts k ON `+contactKey+` = m.user_id AND k.deleted_at IS NULL
		WHERE m.bucket_id = $1 AND m.status = 'active' AND m.deleted_at IS NULL AND m.id > $2::uuid
		ORDER BY m.id LIMIT $3`, bucketID, uuidCursor(cursor), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		return m, r.Scan(&m.ID, &m.UserID, &m.UserEmail, &m.EnteredAt, &m.EntryCount)
	})
}

// EventWindow is one event count to take: events named Name at or after Since (nil = ever).
type EventWindow struct {
	Name  string
	Since *time.Time
}

// KeyedWindow is one event count of one contact.
type KeyedWindow struct {
	Key string
	EventWindow
}

// CountKeyedWindows takes many contacts' event counts in one round trip, in order.
func CountKeyedWindows(ctx context.Context, db DBTX, windows []KeyedWindow) ([]int, error) {
	keys, names, sinces := make([]string, len(windows)), make([]string, len(windows)), make([]*time.Time, len(windows))
	for i, w := range windows {
		keys[i], names[i], sinces[i] = w.Key, w.Name, w.Since
	}
	rows, err := db.Query(ctx, `SELECT (SELECT count(*) FROM user_events e WHERE e.user_id = w.k AND e.event = w.name
			AND (w.since IS NULL OR e.occurred_at >= w.since))
		FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS w(k, name, since, n) ORDER BY w.n`, keys, names, sinces)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// LiveContactsOfKeys finds the live contacts of many contact keys (with their properties), by
// key, locked FOR SHARE for the caller's transaction (an ingest holds them already).
func LiveContactsOfKeys(ctx context.Context, db DBTX, keys []string) (map[string]Contact, error) {
	list, err := collectContacts(db.Query(ctx, `SELECT `+contactColumns+` FROM contacts k
		WHERE k.deleted_at IS NULL AND `+contactKey+` = ANY($1) FOR SHARE`, keys))
	out := make(map[string]Contact, len(list))
	for _, c := range list {
		out[c.Key()] = c
	}
	return out, err
}

// ActiveMembershipsOf are the active rows of many contacts in the given buckets: key → bucket →
// row.
func ActiveMembershipsOf(ctx context.Context, db DBTX, keys, bucketIDs []string) (map[string]map[string]Membership, error) {
	rows, err := db.Query(ctx, `SELECT bucket_id, id::text, user_id, user_email, entered_at, entry_count FROM bucket_memberships
		WHERE user_id = ANY($1) AND bucket_id = ANY($2) AND status = 'active' AND deleted_at IS NULL`, keys, bucketIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]Membership{}
	for rows.Next() {
		var b string
		var m Membership
		if err := rows.Scan(&b, &m.ID, &m.UserID, &m.UserEmail, &m.EnteredAt, &m.EntryCount); err != nil {
			return nil, err
		}
		if out[m.UserID] == nil {
			out[m.UserID] = map[string]Membership{}
		}
		out[m.UserID][b] = m
	}
	return out, rows.Err()
}

// ExpireMembership leaves an active row whose deadline is still the one armed (a moved
// deadline means a newer decision owns the row); ok false otherwise.
func ExpireMembership(ctx context.Context, db DBTX, id string, armed, now time.Time) (m Membership, ok bool, err error) {
	err = db.QueryRow(ctx, `UPDATE bucket_memberships SET status = 'left', left_at = $3, last_evaluated_at = $3, updated_at = $3
		WHERE id = $1 AND status = 'active' AND expires_at = $2 RETURNING id::text, user_id, user_email, entered_at, entry_count`,
		id, armed, now).Scan(&m.ID, &m.UserID, &m.UserEmail, &m.EnteredAt, &m.EntryCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return m, false, nil
	}
	return m, err == nil, err
}
