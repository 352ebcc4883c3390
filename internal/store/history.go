package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// History tables refer to a contact by user key. When keys change (a contact gains an external
// id, or contacts merge) the rows move from the old keys to the new one; these functions do the
// moving, folding rows that would collide so that nothing is lost: one live journey run per
// journey, one active membership per bucket, and an opt-out or suppression always survives.

// MoveEvents re-keys user_events.
func MoveEvents(ctx context.Context, tx pgx.Tx, from []string, to string) error {
	_, err := tx.Exec(ctx, `UPDATE user_events SET user_id = $2 WHERE user_id = ANY($1)`, from, to)
	return err
}

// MoveEmailSends re-keys email_sends, taking the new email when there is one.
func MoveEmailSends(ctx context.Context, tx pgx.Tx, from []string, to string, email *string) error {
	_, err := tx.Exec(ctx, `UPDATE email_sends SET user_id = $2, user_email = coalesce($3, user_email), updated_at = now()
		WHERE user_id = ANY($1)`, from, to, email)
	return err
}

// ExitedRun is a live journey run that a fold ended; its workflow must be cancelled.
type ExitedRun struct {
	StateID    string
	JourneyID  string
	WorkflowID *string
}

type foldState struct {
	id, journeyID, journeyKey, status string
	workflowID                        *string
}

// FoldJourneyStates moves the journey states of the from keys to the to key. A live state
// whose (journey, instance key) already has a live run at the target is ended as exited (one
// live run per contact, journey and key; active and waiting are one slot); a finished state
// whose (journey, key, status) the target already records is deleted. Sends of a deleted state
// point at the target's kept state.
func FoldJourneyStates(ctx context.Context, tx pgx.Tx, from []string, to string, email *string) ([]ExitedRun, error) {
	slot := func(s foldState, status string) string {
		if status == "waiting" {
			status = "active"
		}
		return s.journeyID + "\x00" + s.journeyKey + "\x00" + status
	}
	load := func(q string, arg any) ([]foldState, error) {
		rows, err := tx.Query(ctx, `SELECT id::text, journey_id, journey_key, status::text, workflow_id FROM journey_states
			WHERE `+q+` AND deleted_at IS NULL ORDER BY created_at, id`, arg)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, func(r pgx.CollectableRow) (foldState, error) {
			var s foldState
			err := r.Scan(&s.id, &s.journeyID, &s.journeyKey, &s.status, &s.workflowID)
			return s, err
		})
	}
	target, err := load(`user_id = $1`, to)
	if err != nil {
		return nil, fmt.Errorf("load target journey states: %w", err)
	}
	losers, err := load(`user_id = ANY($1)`, from)
	if err != nil {
		return nil, fmt.Errorf("load journey states to fold: %w", err)
	}
	occupied := map[string]string{} // slot → id of the state holding it
	for _, s := range target {
		occupied[slot(s, s.status)] = s.id
	}
	var move, exit, del []string
	var exited []ExitedRun
	for _, s := range losers {
		live := s.status == "active" || s.status == "waiting"
		switch {
		case occupied[slot(s, s.status)] == "":
			move = append(move, s.id)
			occupied[slot(s, s.status)] = s.id
		case live:
			exit = append(exit, s.id)
			exited = append(exited, ExitedRun{StateID: s.id, JourneyID: s.journeyID, WorkflowID: s.workflowID})
		default:
			// Sends keep a valid state reference: the kept state of the same slot.
			if _, err := tx.Exec(ctx, `UPDATE email_sends SET journey_state_id = $2, updated_at = now() WHERE journey_state_id = $1`,
				s.id, occupied[slot(s, s.status)]); err != nil {
				return nil, fmt.Errorf("re-point sends of a folded journey state: %w", err)
			}
			del = append(del, s.id)
		}
	}
	if len(del) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM journey_states WHERE id = ANY($1::uuid[])`, del); err != nil {
			return nil, fmt.Errorf("delete folded journey states: %w", err)
		}
	}
	if len(exit) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE journey_states SET status = 'exited', exited_at = now(), updated_at = now()
			WHERE id = ANY($1::uuid[])`, exit); err != nil {
			return nil, fmt.Errorf("exit folded journey states: %w", err)
		}
	}
	if ids := append(move, exit...); len(ids) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE journey_states SET user_id = $2, user_email = coalesce($3, user_email), updated_at = now()
			WHERE id = ANY($1::uuid[])`, ids, to, email); err != nil {
			return nil, fmt.Errorf("move journey states: %w", err)
		}
	}
	return exited, nil
}

// FoldBucketMemberships moves memberships to the to key; a from-key active membership of a
// bucket the target is already in is closed (the target's dwell clock is kept).
func FoldBucketMemberships(ctx context.Context, tx pgx.Tx, from []string, to string) error {
	if _, err := tx.Exec(ctx, `UPDATE bucket_memberships SET status = 'left', left_at = now(), updated_at = now()
		WHERE user_id = ANY($1) AND status = 'active' AND deleted_at IS NULL
		  AND bucket_id IN (SELECT bucket_id FROM bucket_memberships WHERE user_id = $2 AND status = 'active' AND deleted_at IS NULL)`,
		from, to); err != nil {
		return fmt.Errorf("close duplicate memberships: %w", err)
	}
	_, err := tx.Exec(ctx, `UPDATE bucket_memberships SET user_id = $2, updated_at = now() WHERE user_id = ANY($1)`, from, to)
	return err
}

type prefRow struct {
	id, email                   string
	unsubscribedAll, suppressed bool
	bounceCount                 int
	categories                  map[string]bool
	suppressedAt, lastBounceAt  *time.Time
}

// FoldEmailPreferences moves preference rows to the to key. Where the target already has a row
// for the same email the two are combined: any opt-out or suppression wins, the highest bounce
// count and the earliest timestamps are kept, and a category is opted in only if both agree.
func FoldEmailPreferences(ctx context.Context, tx pgx.Tx, from []string, to string) error {
	rows, err := tx.Query(ctx, `SELECT id::text, email FROM email_preferences WHERE user_id = ANY($1) ORDER BY created_at, id`, from)
	if err != nil {
		return err
	}
	type ref struct{ id, email string }
	refs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ref, error) {
		var x ref
		return x, r.Scan(&x.id, &x.email)
	})
	if err != nil {
		return err
	}
	load := func(where string, args ...any) (prefRow, error) {
		var p prefRow
		err := tx.QueryRow(ctx, `SELECT id::text, email, unsubscribed_all, suppressed, bounce_count,
			coalesce(categories, '{}'::jsonb), suppressed_at, last_bounce_at FROM email_preferences WHERE `+where, args...).
			Scan(&p.id, &p.email, &p.unsubscribedAll, &p.suppressed, &p.bounceCount, &p.categories, &p.suppressedAt, &p.lastBounceAt)
		return p, interpret(err)
	}
	for _, r := range refs {
		target, err := load(`user_id = $1 AND email = $2`, to, r.email)
		if err == ErrNotFound {
			if _, err := tx.Exec(ctx, `UPDATE email_preferences SET user_id = $2, updated_at = now() WHERE id = $1`, r.id, to); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		p, err := load(`id = $1`, r.id)
		if err != nil {
			return err
		}
		cats := target.categories
		for k, v := range p.categories {
			if old, ok := cats[k]; ok {
				cats[k] = old && v
			} else {
				cats[k] = v
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE email_preferences SET
				unsubscribed_all = unsubscribed_all OR $2, suppressed = suppressed OR $3, bounce_count = greatest(bounce_count, $4),
				categories = $5, suppressed_at = least(suppressed_at, $6), last_bounce_at = least(last_bounce_at, $7), updated_at = now()
			WHERE id = $1`, target.id, p.unsubscribedAll, p.suppressed, p.bounceCount, cats, p.suppressedAt, p.lastBounceAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM email_preferences WHERE id = $1`, p.id); err != nil {
			return err
		}
	}
	return nil
}
