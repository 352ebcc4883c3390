// Package journeys connects ingest to journey runs: the consumer that exits, wakes and enrolls
// inside the ingest transaction, the outbox handler that starts the runs, and the service
// behind the journey admin routes.
package journeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Consumer is the ingest consumer that connects ingested events to journeys, inside the ingest
// transaction (spec journeys §4.1): exit the contact's runs whose exitOn matches, wake its runs
// waiting for the event, and enroll it in every journey the event triggers. Enrolment (the
// guards and the state row) commits with the event; the workflow start, exit and wake signals
// are outbox intents performed after commit.
type Consumer struct {
	Registry *journey.Registry
	Logger   *slog.Logger
	// DefaultTimezone is the zone of contacts without a valid one (UTC when empty); SendWindow
	// the default send window of When() (nil = none). Both are bound into each run at enrolment.
	DefaultTimezone string
	SendWindow      *journey.SendWindow
}

// KindStart is the outbox kind of a journey start.
const KindStart = "journey.start"

// Skip reasons decided before the database guards.
const (
	SkipDisabled      = "journey_disabled"
	SkipConditions    = "trigger_conditions_not_met"
	SkipMissingRunKey = "run_key_missing"
)

// StartIntent is the payload of a journey start intent: the workflow input plus what the start
// needs to be placed and found in the Web UI.
type StartIntent struct {
	WorkflowID string         `json:"workflowId"`
	Type       string         `json:"workflowType"`
	Input      map[string]any `json:"input"`
	StateID    string         `json:"stateId"`
	JourneyID  string         `json:"journeyId"`
	ContactID  string         `json:"contactId"`
	Memo       map[string]any `json:"memo"`
}

func (j *Consumer) logger() *slog.Logger {
	if j.Logger != nil {
		return j.Logger
	}
	return slog.Default()
}

// ConsumeEvent implements ingest.Consumer.
func (j *Consumer) ConsumeEvent(ctx context.Context, tx pgx.Tx, ev *ingest.StoredEvent, fx *ingest.Effects) error {
	return j.ConsumeEvents(ctx, tx, []*ingest.StoredEvent{ev}, []*ingest.Effects{fx})
}

// ConsumeEvents implements ingest.BatchConsumer: one query finds the runs every event of the batch
// may exit or wake. A batch holding a trigger event is taken one event at a time instead, so an
// event after it sees the run it enrolled.
func (j *Consumer) ConsumeEvents(ctx context.Context, tx pgx.Tx, evs []*ingest.StoredEvent, fxs []*ingest.Effects) error {
	triggers := false
	for _, ev := range evs {
		triggers = triggers || len(j.Registry.Triggered(ev.Name)) > 0
	}
	if triggers && len(evs) > 1 {
		for i := range evs {
			if err := j.ConsumeEvents(ctx, tx, evs[i:i+1], fxs[i:i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	keys, names := make([]string, len(evs)), make([]string, len(evs))
	for i, ev := range evs {
		keys[i], names[i] = ev.UserKey, ev.Name
	}
	runs, err := store.RunsToNotify(ctx, tx, keys, names, j.Registry.WithExitRules())
	if err != nil {
		return fmt.Errorf("find runs to exit or wake: %w", err)
	}
	byUser := map[string][]*store.JourneyState{}
	for i := range runs {
		byUser[runs[i].UserID] = append(byUser[runs[i].UserID], &runs[i])
	}
	for i, ev := range evs {
		if err := j.exitAndWake(ctx, tx, ev, byUser[ev.UserKey], fxs[i]); err != nil {
			return err
		}
		for _, jn := range j.Registry.Triggered(ev.Name) {
			if err := j.enroll(ctx, tx, jn, ev, fxs[i]); err != nil {
				return fmt.Errorf("enroll %s in %s: %w", ev.UserKey, jn.ID, err)
			}
		}
	}
	return nil
}

// exitAndWake handles the contact's live runs: exits first, so an event that both exits and
// triggers a journey ends the old run before the new one is enrolled.
func (j *Consumer) exitAndWake(ctx context.Context, tx pgx.Tx, ev *ingest.StoredEvent, runs []*store.JourneyState, fx *ingest.Effects) error {
	for _, s := range runs {
		if s.Status != journey.StatusActive && s.Status != journey.StatusWaiting {
			continue // exited by an earlier event of the batch
		}
		jn, registered := j.Registry.Get(s.JourneyID)
		if registered && len(jn.ExitOn) > 0 {
			matched := exitMatches(jn, ev)
			if matched {
				ok, err := store.ExitJourney(ctx, tx, s.ID, journey.ExitOnEvent, ev.Name)
				if err != nil {
					return fmt.Errorf("exit run %s: %w", s.ID, err)
				}
				if ok {
					s.Status = journey.StatusExited
					fx.Intents = append(fx.Intents, signalRun(*s, journey.SignalExit,
						journey.ExitSignal{StateID: s.ID, Reason: journey.ExitOnEvent, Event: ev.Name}, "exit:"+s.ID))
				}
			}
			fx.Exits = append(fx.Exits, ingest.ExitResult{JourneyID: s.JourneyID, StateID: s.ID, Exited: matched})
			if matched {
				continue
			}
		}
		if s.Status == journey.StatusWaiting && s.WaitingEvent != nil && *s.WaitingEvent == ev.Name &&
			s.WaitToken != nil && keyMatches(jn, *s, ev) {
			fx.Intents = append(fx.Intents, signalRun(*s, journey.SignalEvent, journey.EventSignal{StateID: s.ID,
				Event: ev.Name, WaitToken: *s.WaitToken, EventID: ev.ID, OccurredAt: journey.Timestamp(ev.OccurredAt)},
				"wake:"+s.ID+":"+*s.WaitToken))
		}
	}
	return nil
}

func exitMatches(jn *journey.Journey, ev *ingest.StoredEvent) bool {
	for _, r := range jn.ExitOn {
		if r.Event == ev.Name && condition.MatchAll(r.Where, ev.Properties) {
			return true
		}
	}
	return false
}

// keyMatches: a keyed run waits for events of its own key (e.g. its cartId).
func keyMatches(jn *journey.Journey, s store.JourneyState, ev *ingest.StoredEvent) bool {
	if jn == nil || jn.Key == "" || s.JourneyKey == "" {
		return true
	}
	return runKey(ev.Properties[jn.Key]) == s.JourneyKey
}

// runKey renders a key property; "" when it is missing or not a scalar.
func runKey(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64, bool, json.Number:
		return fmt.Sprint(v)
	}
	return ""
}

func signalRun(s store.JourneyState, name string, payload any, dedupe string) outbox.Intent {
	body, _ := json.Marshal(payload)
	sig := outbox.SignalWorkflow{Signal: name, Payload: body}
	if s.WorkflowID != nil {
		sig.WorkflowID = *s.WorkflowID
	}
	if s.RunID != nil {
		sig.RunID = *s.RunID
	}
	return outbox.Signal(sig, dedupe)
}

// ScalarProperties keeps the top-level scalar properties: journeys see only those.
func ScalarProperties(props map[string]any) map[string]any {
	out := make(map[string]any, len(props))
	for k, v := range props {
		switch v.(type) {
		case map[string]any, []any:
		default:
			out[k] = v
		}
	}
	return out
}

// enroll runs the guard chain for one journey; a skip is logged, never an error.
func (j *Consumer) enroll(ctx context.Context, tx pgx.Tx, jn *journey.Journey, ev *ingest.StoredEvent, fx *ingest.Effects) error {
	props := ScalarProperties(ev.Properties)
	skip := func(reason string) error {
		j.logger().Info("journey enrollment skipped", "journeyId", jn.ID, "userId", ev.UserKey, "reason", reason)
		return nil
	}
	if !jn.Enabled {
		return skip(SkipDisabled)
	}
	// The admin switch is guard 2; it is checked with the database guards, before any write.
	if !condition.MatchAll(jn.Trigger.Where, props) {
		if off, err := disabledByAdmin(ctx, tx, jn.ID); err != nil || off {
			if err != nil {
				return err
			}
			return skip(store.SkipDisabledByAdmin)
		}
		return skip(SkipConditions)
	}
	key := ""
	if jn.Key != "" {
		if key = runKey(props[jn.Key]); key == "" {
			return skip(SkipMissingRunKey)
		}
	}
	email := ev.UserEmail
	if email == "" {
		email = ev.ContactEmail
	}
	wfID := journey.WorkflowID(jn.ID, ev.ContactID, key)
	state, reason, err := store.EnrollJourney(ctx, tx, store.Enrollment{JourneyID: jn.ID, UserKey: ev.UserKey,
		UserEmail: email, Key: key, EntryLimit: string(jn.EntryLimit), Period: jn.Period(), WorkflowID: wfID,
		Context: props, Trigger: ev.Name})
	if err != nil {
		return err
	}
	if reason != "" {
		return skip(reason)
	}
	column, property, err := store.ContactTimezones(ctx, tx, ev.UserKey)
	if err != nil {
		return err
	}
	input := map[string]any{"stateId": state.ID, "journeyId": jn.ID, "userId": ev.UserKey, "contactId": ev.ContactID,
		"key": key, "properties": props, "triggerEvent": ev.Name, "eventId": ev.ID,
		"triggeredAt": journey.Timestamp(ev.OccurredAt), "timezone": journey.FirstValidZone(column, property, j.DefaultTimezone)}
	if j.SendWindow != nil {
		input["window"] = j.SendWindow
	}
	fx.Intents = append(fx.Intents, outbox.Intent{Kind: KindStart, DedupeKey: startKeyPrefix + state.ID,
		Payload: StartIntent{WorkflowID: wfID, Type: journey.WorkflowName(jn.ID), Input: input, StateID: state.ID,
			JourneyID: jn.ID, ContactID: ev.ContactID,
			Memo: map[string]any{"journeyName": jn.Name, "triggerEvent": ev.Name, "stateId": state.ID}}}) // no address: memos are visible to every operator
	return nil
}

func disabledByAdmin(ctx context.Context, db store.DBTX, journeyID string) (bool, error) {
	sw, err := store.JourneySwitches(ctx, db, []string{journeyID})
	if err != nil {
		return false, err
	}
	on, ok := sw[journeyID]
	return ok && !on, nil
}

// runOfState reports whether a running execution was started for stateID (its memo says so).
func runOfState(ctx context.Context, c client.Client, workflowID, runID, stateID string) (bool, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, runID)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	field := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()["stateId"]
	if field == nil {
		return false, nil
	}
	var memoState string
	if err := converter.GetDefaultDataConverter().FromPayload(field, &memoState); err != nil {
		return false, nil
	}
	return memoState == stateID, nil
}

// staleStartAfter is how long a start may wait for an earlier run under the same workflow id to
// close before the new run is failed.
const staleStartAfter = 10 * time.Minute

// RegisterStarts installs the handler that starts journey runs. Each run claims its state with
// its first step; a second run of the same enrolment, or a run whose state has ended, stops
// there, so a re-dispatched start never runs an enrolment twice. The workflow id is
// one per (journey, contact[, key]), so a start can meet an earlier run that is still closing
// (exited a moment ago by the same event): it is retried a few times at once, then with the
// outbox's backoff, and the state is failed if the old run never closes.
func RegisterStarts(d *outbox.Dispatcher, c client.Client, db store.DBTX, taskQueue string) {
	d.Handle(KindStart, func(ctx context.Context, raw json.RawMessage) error {
		var s StartIntent
		if err := json.Unmarshal(raw, &s); err != nil {
			return outbox.Permanent(fmt.Errorf("decode journey start: %w", err))
		}
		opts := client.StartWorkflowOptions{
			ID:                       s.WorkflowID,
			TaskQueue:                taskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			// Without it the SDK answers a running id with that run and no error: a start that
			// met the previous run still closing was taken as done and never ran.
			WorkflowExecutionErrorWhenAlreadyStarted: true,
			Memo:                                     s.Memo,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				temporal.NewSearchAttributeKeyKeyword(journey.SearchAttrJourneyID).ValueSet(s.JourneyID),
				temporal.NewSearchAttributeKeyKeyword(journey.SearchAttrContactID).ValueSet(s.ContactID),
				temporal.NewSearchAttributeKeyKeyword(journey.SearchAttrStatus).ValueSet(journey.StatusActive)),
		}
		backoff := 100 * time.Millisecond
		for attempt := 0; ; attempt++ {
			_, err := c.ExecuteWorkflow(ctx, opts, s.Type, s.Input)
			var started *serviceerror.WorkflowExecutionAlreadyStarted
			if !errors.As(err, &started) {
				return err // nil: started (the run records its id with its first step)
			}
			state, err := store.JourneyStateByID(ctx, db, s.StateID)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			if state.RunID != nil || (state.Status != journey.StatusActive && state.Status != journey.StatusWaiting) {
				return nil // ours is running, or the state ended before it started
			}
			// Ours, before its first step (a retry after a lost acknowledgement), carries this
			// state id in its memo.
			if mine, err := runOfState(ctx, c, s.WorkflowID, started.RunId, s.StateID); err != nil || mine {
				return err
			}
			if time.Since(state.CreatedAt) > staleStartAfter {
				_, err := store.FailJourney(ctx, db, s.StateID, "could not start: an earlier run of this journey for this contact is still open")
				return err
			}
			if attempt == 4 {
				return fmt.Errorf("workflow %s is still running an earlier enrolment", s.WorkflowID)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 2
		}
	})
}
