package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Journey state transitions are single conditional UPDATEs: a terminal row (completed, failed,
// exited) never changes again, and a transition that finds the row already ended reports false,
// which the runner reads as "this run was exited".

// Skip reasons of an enrollment that did not happen (spec journeys §3).
const (
	SkipDisabledByAdmin = "journey_disabled_by_admin"
	SkipEnteredOnce     = "already_entered_once"
	SkipPeriod          = "period_not_elapsed"
	SkipUnsubscribed    = "user_unsubscribed"
	SkipAlreadyActive   = "already_active"
)

// Enrollment is what EnrollJourney needs; the caller has already checked the code-level enabled
// flag and the trigger conditions.
type Enrollment struct {
	JourneyID  string
	UserKey    string
	UserEmail  string
	Key        string        // instance key of keyed journeys, "" otherwise
	EntryLimit string        // once | once_per_period | unlimited
	Period     time.Duration // once_per_period cool-down
	WorkflowID string
	RunID      string
	Context    map[string]any // the trigger's scalar properties
	Trigger    string         // the trigger event's name, for the log
}

// JourneyState is a journey_states row.
type JourneyState struct {
	ID, UserID, UserEmail, JourneyID, JourneyKey, CurrentNodeID, Status string
	WorkflowID, RunID, ErrorMessage, WaitingEvent, WaitToken            *string
	Context                                                             map[string]any
	EntryCount                                                          int
	CompletedAt, ExitedAt, WakeAt                                       *time.Time
	CreatedAt, UpdatedAt                                                time.Time
}

const journeyStateColumns = `id::text, user_id, user_email, journey_id, journey_key, current_node_id, status::text,
	workflow_id, run_id, error_message, waiting_event, wait_token, coalesce(context, '{}'::jsonb), entry_count,
	completed_at, exited_at, wake_at, created_at, updated_at`

func scanJourneyState(row pgx.Row) (JourneyState, error) {
	var s JourneyState
	err := row.Scan(&s.ID, &s.UserID, &s.UserEmail, &s.JourneyID, &s.JourneyKey, &s.CurrentNodeID, &s.Status,
		&s.WorkflowID, &s.RunID, &s.ErrorMessage, &s.WaitingEvent, &s.WaitToken, &s.Context, &s.EntryCount,
		&s.CompletedAt, &s.ExitedAt, &s.WakeAt, &s.CreatedAt, &s.UpdatedAt)
	return s, interpret(err)
}

// EnrollJourney runs the database guards (admin switch, entry limit, global unsubscribe, one live
// run) and inserts the state with its "entered" log, serialised per (journey, contact). A keyed
// journey counts entries and live runs per key. skip is the reason when no state was created.
func EnrollJourney(ctx context.Context, db DBTX, e Enrollment) (state JourneyState, skip string, err error) {
	err = inTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('journey:' || $1 || ':' || $2))`, e.JourneyID, e.UserKey); err != nil {
			return err
		}
		var adminOff, unsubscribed, live bool
		var entries int
		var last *time.Time
		if err := tx.QueryRow(ctx, `SELECT
				EXISTS (SELECT 1 FROM journey_configs WHERE journey_id = $1 AND NOT enabled),
				(SELECT count(*) FROM journey_states WHERE journey_id = $1 AND user_id = $2 AND journey_key = $3),
				(SELECT max(created_at) FROM journey_states WHERE journey_id = $1 AND user_id = $2 AND journey_key = $3),
				EXISTS (SELECT 1 FROM email_preferences WHERE user_id = $2 AND unsubscribed_all),
				EXISTS (SELECT 1 FROM journey_states WHERE journey_id = $1 AND user_id = $2 AND journey_key = $3
					AND status IN ('active', 'waiting') AND deleted_at IS NULL)`,
			e.JourneyID, e.UserKey, e.Key).Scan(&adminOff, &entries, &last, &unsubscribed, &live); err != nil {
			return err
		}
		switch {
		case adminOff:
			skip = SkipDisabledByAdmin
		case e.EntryLimit == "once" && entries > 0:
			skip = SkipEnteredOnce
		case e.EntryLimit == "once_per_period" && last != nil && time.Since(*last) < e.Period:
			skip = SkipPeriod
		case unsubscribed:
			skip = SkipUnsubscribed
		case live:
			skip = SkipAlreadyActive
		}
		if skip != "" {
			return nil
		}
		ctxJSON := e.Context
		if ctxJSON == nil {
			ctxJSON = map[string]any{}
		}
		detail, err := json.Marshal(map[string]any{"triggerEvent": e.Trigger, "properties": ctxJSON})
		if err != nil {
			return fmt.Errorf("encode journey log detail: %w", err)
		}
		// The state and its "entered" log in one statement.
		state, err = scanJourneyState(tx.QueryRow(ctx, `WITH st AS (INSERT INTO journey_states
				(user_id, user_email, journey_id, journey_key, current_node_id, status, workflow_id, run_id, context, entry_count)
			VALUES ($1, $2, $3, $4, 'start', 'active', nullif($5, ''), nullif($6, ''), $7, $8) RETURNING *),
			logged AS (INSERT INTO journey_logs (journey_state_id, from_node_id, to_node_id, action, detail, step)
				SELECT id, NULL, 'start', 'entered', $9::jsonb, 'entered' FROM st)
			SELECT `+journeyStateColumns+` FROM st`,
			e.UserKey, e.UserEmail, e.JourneyID, e.Key, e.WorkflowID, e.RunID, ctxJSON, entries+1, detail))
		return err
	})
	return state, skip, err
}

// inTx runs fn in the caller's transaction when db is one (its savepoint, if any, is the
// caller's), else in a transaction of its own.
func inTx(ctx context.Context, db DBTX, fn func(tx pgx.Tx) error) error {
	if tx, ok := db.(pgx.Tx); ok {
		return fn(tx)
	}
	return WithTx(ctx, db, fn)
}

// Transition is one conditional state change with its log row.
type Transition struct {
	StateID string
	Step    string // deterministic per run step, e.g. "w3"
	Label   string // the new current node, where the transition sets one
	Detail  any
}

// transition runs a conditional UPDATE and, when it applied, the log row, in one statement; ok
// is false when the row was not in a status the transition may leave (the run was exited).
func transition(ctx context.Context, db DBTX, t Transition, action, set, from string, args ...any) (ok bool, err error) {
	var detail []byte
	if t.Detail != nil {
		if detail, err = json.Marshal(t.Detail); err != nil {
			return false, fmt.Errorf("encode journey log detail: %w", err)
		}
	}
	// $1 is the state, then set's own arguments, then the log's.
	next := len(args) + 2
	p := func(i int) string { return "$" + strconv.Itoa(next+i) }
	all := append(append([]any{t.StateID}, args...), action, t.Label, detail, t.Step)
	var applied int
	err = db.QueryRow(ctx, `WITH old AS (SELECT current_node_id FROM journey_states WHERE id = $1 FOR UPDATE),
		upd AS (UPDATE journey_states s SET `+set+`, updated_at = now() FROM old
			WHERE s.id = $1 AND s.status IN (`+from+`) RETURNING old.current_node_id AS prev),
		logged AS (INSERT INTO journey_logs (journey_state_id, from_node_id, to_node_id, action, detail, step)
			SELECT $1, prev, coalesce(nullif(`+p(1)+`::text, ''), prev), `+p(0)+`::text, `+p(2)+`::jsonb, nullif(`+p(3)+`::text, '')
			FROM upd ON CONFLICT (journey_state_id, step) WHERE step IS NOT NULL DO NOTHING)
		SELECT count(*) FROM upd`, all...).Scan(&applied)
	return applied == 1, err
}

const live = `'active', 'waiting'`

// EnterWait marks a run waiting (for an event when event is set) at label.
func EnterWait(ctx context.Context, db DBTX, t Transition, event, token string, wakeAt *time.Time) (bool, error) {
	return transition(ctx, db, t, "waiting",
		`status = 'waiting', current_node_id = $2, waiting_event = nullif($3, ''), wait_token = nullif($4, ''), wake_at = $5`,
		live, t.Label, event, token, wakeAt)
}

// ResumeWait marks a waiting run active again; false means an exit landed during the wait.
func ResumeWait(ctx context.Context, db DBTX, t Transition) (bool, error) {
	return transition(ctx, db, t, "resumed", `status = 'active', waiting_event = NULL, wait_token = NULL, wake_at = NULL`, `'waiting'`)
}

// CheckpointJourney moves a live run to label.
func CheckpointJourney(ctx context.Context, db DBTX, t Transition) (bool, error) {
	return transition(ctx, db, t, "checkpoint", `current_node_id = $2`, live, t.Label)
}

// CompleteJourney ends a live run as completed.
func CompleteJourney(ctx context.Context, db DBTX, stateID string) (bool, error) {
	return transition(ctx, db, Transition{StateID: stateID, Step: "completed", Label: "done"}, "completed",
		`status = 'completed', completed_at = now(), waiting_event = NULL, wait_token = NULL, wake_at = NULL`, live)
}

// FailJourney ends a live run as failed with the error text.
func FailJourney(ctx context.Context, db DBTX, stateID, message string) (bool, error) {
	return transition(ctx, db, Transition{StateID: stateID, Step: "failed", Detail: map[string]any{"error": message}}, "failed",
		`status = 'failed', error_message = $2, waiting_event = NULL, wait_token = NULL, wake_at = NULL`, live, message)
}

// ExitJourney ends a live run as exited (exitOn, admin cancel, workflow cancelled).
func ExitJourney(ctx context.Context, db DBTX, stateID, reason, event string) (bool, error) {
	detail := map[string]any{"reason": reason}
	if event != "" {
		detail["event"] = event
	}
	return transition(ctx, db, Transition{StateID: stateID, Step: "exited", Detail: detail}, "exited",
		`status = 'exited', exited_at = now(), waiting_event = NULL, wait_token = NULL, wake_at = NULL`, live)
}

// LiveJourneyStates are a user key's active and waiting runs (for exit checks and wake-ups).
func LiveJourneyStates(ctx context.Context, db DBTX, userKey string) ([]JourneyState, error) {
	rows, err := db.Query(ctx, `SELECT `+journeyStateColumns+` FROM journey_states
		WHERE user_id = $1 AND status IN ('active', 'waiting') AND deleted_at IS NULL ORDER BY created_at, id`, userKey)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (JourneyState, error) { return scanJourneyState(r) })
}

// JourneyStateByID finds a state.
func JourneyStateByID(ctx context.Context, db DBTX, id string) (JourneyState, error) {
	return scanJourneyState(db.QueryRow(ctx, `SELECT `+journeyStateColumns+` FROM journey_states WHERE id = $1`, id))
}
