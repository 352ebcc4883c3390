package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Reads and small writes behind journey runs, dispatch and the journey admin routes.

func collectJourneyStates(rows pgx.Rows, err error) ([]JourneyState, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (JourneyState, error) { return scanJourneyState(r) })
}

// ClaimJourneyRun records runID as the Temporal run executing a state, once: it reports whether
// the state is (now) that run's. A second run started for the same enrolment (a re-dispatched
// start after the first run closed) gets false and must do nothing.
func ClaimJourneyRun(ctx context.Context, db DBTX, stateID, runID string) (bool, error) {
	var mine bool
	err := db.QueryRow(ctx, `WITH claimed AS (
			UPDATE journey_states SET run_id = $2, updated_at = now() WHERE id = $1 AND run_id IS NULL RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM claimed) OR EXISTS (SELECT 1 FROM journey_states WHERE id = $1 AND run_id = $2)`,
		stateID, runID).Scan(&mine)
	return mine, err
}

// Where a stalled enrolment's start intent stands (StalledStart.Intent).
const (
	IntentPending      = "pending"       // the outbox still retries it
	IntentDispatched   = "dispatched"    // performed, yet no run claimed the state
	IntentDeadLettered = "dead_lettered" // out of attempts
	IntentMissing      = "missing"       // never written, or pruned
)

// StalledStart is a live enrolment that no run has claimed.
type StalledStart struct {
	StateID, JourneyID string
	Intent             string
	LastError          string
}

// StalledStarts lists up to limit live states created more than olderThan ago that no run has
// claimed, each with its start intent (outbox dedupe key startKeyPrefix || state id).
func StalledStarts(ctx context.Context, db DBTX, startKeyPrefix string, olderThan time.Duration, limit int) ([]StalledStart, error) {
	rows, err := db.Query(ctx, `SELECT s.id, s.journey_id,
			CASE WHEN o.id IS NULL THEN 'missing' WHEN o.dead_lettered_at IS NOT NULL THEN 'dead_lettered'
				WHEN o.dispatched_at IS NULL THEN 'pending' ELSE 'dispatched' END,
			coalesce(o.last_error, '')
		FROM journey_states s LEFT JOIN outbox o ON o.dedupe_key = $1 || s.id::text
		WHERE s.run_id IS NULL AND s.status IN ('active', 'waiting') AND s.created_at < now() - make_interval(secs => $2)
		ORDER BY s.created_at LIMIT $3`, startKeyPrefix, olderThan.Seconds(), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StalledStart, error) {
		var s StalledStart
		return s, r.Scan(&s.StateID, &s.JourneyID, &s.Intent, &s.LastError)
	})
}

// ContactTimezones are a contact's zone candidates: the timezone column, then the
// "timezone" property.
func ContactTimezones(ctx context.Context, db DBTX, userKey string) (column, property string, err error) {
	c, err := LiveContactByKey(ctx, db, userKey)
	if err == ErrNotFound {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	if c.Timezone != nil {
		column = *c.Timezone
	}
	property, _ = c.Properties["timezone"].(string)
	return column, property, nil
}

// RunsToNotify are the live runs of the user keys that events may concern: those of the
// journeys whose exit rules can match, and those waiting for one of the event names.
func RunsToNotify(ctx context.Context, db DBTX, userKeys, events, exitJourneys []string) ([]JourneyState, error) {
	return collectJourneyStates(db.Query(ctx, `SELECT `+journeyStateColumns+` FROM journey_states
		WHERE user_id = ANY($1) AND status IN ('active', 'waiting') AND deleted_at IS NULL
			AND (journey_id = ANY($3) OR (status = 'waiting' AND waiting_event = ANY($2)))
		ORDER BY created_at, id`, userKeys, events, exitJourneys))
}

// CountUserEvents counts a user key's events of one name, since a time when given.
func CountUserEvents(ctx context.Context, db DBTX, userKey, event string, since *time.Time) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM user_events WHERE user_id = $1 AND event = $2
		AND ($3::timestamptz IS NULL OR occurred_at >= $3)`, userKey, event, since).Scan(&n)
	return n, err
}

// JourneyEntries counts every run of a journey for a user key and its last completion.
func JourneyEntries(ctx context.Context, db DBTX, userKey, journeyID string) (count int, lastCompleted *time.Time, err error) {
	err = db.QueryRow(ctx, `SELECT count(*), max(completed_at) FROM journey_states WHERE user_id = $1 AND journey_id = $2`,
		userKey, journeyID).Scan(&count, &lastCompleted)
	return count, lastCompleted, err
}

// TemplateSends counts the sends of a template to an address (any status) and the last one.
func TemplateSends(ctx context.Context, db DBTX, email, templateKey string) (count int, lastSent *time.Time, err error) {
	err = db.QueryRow(ctx, `SELECT count(*), max(sent_at) FROM email_sends WHERE to_email = $1 AND template_key = $2`,
		email, templateKey).Scan(&count, &lastSent)
	return count, lastSent, err
}

// UnsubscribedAll reports a user key's global unsubscribe.
func UnsubscribedAll(ctx context.Context, db DBTX, userKey string) (bool, error) {
	var out bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM email_preferences WHERE user_id = $1 AND unsubscribed_all)`, userKey).Scan(&out)
	return out, err
}

// JourneyStatusCounts counts non-deleted runs per journey and status.
func JourneyStatusCounts(ctx context.Context, db DBTX, journeyIDs []string) (map[string]map[string]int, error) {
	rows, err := db.Query(ctx, `SELECT journey_id, status::text, count(*) FROM journey_states
		WHERE journey_id = ANY($1) AND deleted_at IS NULL GROUP BY 1, 2`, journeyIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[string]int{}
	for rows.Next() {
		var id, status string
		var n int
		if err := rows.Scan(&id, &status, &n); err != nil {
			return nil, err
		}
		if out[id] == nil {
			out[id] = map[string]int{}
		}
		out[id][status] = n
	}
	return out, rows.Err()
}

// JourneySwitches are the admin enable switches (journey_configs) of the given journeys.
func JourneySwitches(ctx context.Context, db DBTX, journeyIDs []string) (map[string]bool, error) {
	rows, err := db.Query(ctx, `SELECT journey_id, enabled FROM journey_configs WHERE journey_id = ANY($1)`, journeyIDs)
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

// SetJourneySwitch upserts a journey's admin enable switch and returns its updated_at.
func SetJourneySwitch(ctx context.Context, db DBTX, journeyID string, enabled bool) (time.Time, error) {
	var at time.Time
	err := db.QueryRow(ctx, `INSERT INTO journey_configs (journey_id, enabled) VALUES ($1, $2)
		ON CONFLICT (journey_id) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()
		RETURNING updated_at`, journeyID, enabled).Scan(&at)
	return at, err
}

// JourneyStateFilter selects runs of one journey.
type JourneyStateFilter struct {
	JourneyID string
	Status    string // "" = any
	UserID    string // "" = any
}

// ListJourneyStates pages a journey's non-deleted runs, newest first, with the total.
func ListJourneyStates(ctx context.Context, db DBTX, f JourneyStateFilter, limit, offset int) ([]JourneyState, int, error) {
	const where = `journey_id = $1 AND deleted_at IS NULL AND ($2 = '' OR status::text = $2) AND ($3 = '' OR user_id = $3)`
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM journey_states WHERE `+where, f.JourneyID, f.Status, f.UserID).Scan(&total); err != nil {
		return nil, 0, err
	}
	states, err := collectJourneyStates(db.Query(ctx, `SELECT `+journeyStateColumns+` FROM journey_states WHERE `+where+`
		ORDER BY created_at DESC, id LIMIT $4 OFFSET $5`, f.JourneyID, f.Status, f.UserID, limit, offset))
	return states, total, err
}

// RecentJourneyStates are a journey's last touched runs.
func RecentJourneyStates(ctx context.Context, db DBTX, journeyID string, limit int) ([]JourneyState, error) {
	return collectJourneyStates(db.Query(ctx, `SELECT `+journeyStateColumns+` FROM journey_states
		WHERE journey_id = $1 AND deleted_at IS NULL ORDER BY updated_at DESC, id LIMIT $2`, journeyID, limit))
}

// LiveJourneyState finds a non-deleted state; journeyID "" matches any journey.
func LiveJourneyState(ctx context.Context, db DBTX, stateID, journeyID string) (JourneyState, error) {
	return scanJourneyState(db.QueryRow(ctx, `SELECT `+journeyStateColumns+` FROM journey_states
		WHERE id = $1 AND deleted_at IS NULL AND ($2 = '' OR journey_id = $2)`, stateID, journeyID))
}

// JourneyLog is a journey_logs row.
type JourneyLog struct {
	ID, Action       string
	FromNode, ToNode *string
	Detail           map[string]any
	CreatedAt        time.Time
}

// JourneyLogs are a run's log rows in the order they were written.
func JourneyLogs(ctx context.Context, db DBTX, stateID string) ([]JourneyLog, error) {
	rows, err := db.Query(ctx, `SELECT id::text, action, from_node_id, to_node_id, detail, created_at FROM journey_logs
		WHERE journey_state_id = $1 ORDER BY created_at, seq`, stateID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (JourneyLog, error) {
		var l JourneyLog
		err := r.Scan(&l.ID, &l.Action, &l.FromNode, &l.ToNode, &l.Detail, &l.CreatedAt)
		return l, err
	})
}

// LogJourneyStep writes a log row for a live run once per step key (email_sent,
// event_triggered); a retried activity writes nothing new.
func LogJourneyStep(ctx context.Context, db DBTX, stateID, step, action string, detail any) error {
	body, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("encode journey log detail: %w", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO journey_logs (journey_state_id, from_node_id, to_node_id, action, detail, step)
		SELECT id, current_node_id, current_node_id, $3, $4::jsonb, $2 FROM journey_states WHERE id = $1
		ON CONFLICT (journey_state_id, step) WHERE step IS NOT NULL DO NOTHING`, stateID, step, action, body)
	return err
}
