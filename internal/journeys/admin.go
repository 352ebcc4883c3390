package journeys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Signaler signals a workflow run (the Temporal client).
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Admin is the domain service behind the journey admin routes.
type Admin struct {
	Ingest   *ingest.Service
	Registry *journey.Registry
	Temporal Signaler
}

// Journey admin errors.
var (
	ErrJourneyNotFound = errors.New("journey not found")
	ErrStateNotFound   = errors.New("state not found")
)

// StateEndedError is a cancel of a run that has already ended.
type StateEndedError struct{ Status string }

func (e *StateEndedError) Error() string {
	return fmt.Sprintf("Cannot cancel journey in '%s' status", e.Status)
}

// Summary is a registered journey with its effective switch and state counts.
type Summary struct {
	Journey *journey.Journey
	Enabled bool // the admin switch when set, else the code's Enabled
	Counts  map[string]int
}

// Journeys lists the registered journeys in registration order; enabled filters on the
// effective switch when not nil.
func (a *Admin) Journeys(ctx context.Context, enabled *bool) ([]Summary, error) {
	all := a.Registry.Enabled()
	ids := make([]string, len(all))
	for i, j := range all {
		ids[i] = j.ID
	}
	switches, err := store.JourneySwitches(ctx, a.Ingest.DB, ids)
	if err != nil {
		return nil, err
	}
	counts, err := store.JourneyStatusCounts(ctx, a.Ingest.DB, ids)
	if err != nil {
		return nil, err
	}
	out := []Summary{}
	for _, j := range all {
		on, set := switches[j.ID]
		if !set {
			on = j.Enabled
		}
		if enabled != nil && on != *enabled {
			continue
		}
		c := map[string]int{}
		for _, s := range []string{journey.StatusActive, journey.StatusWaiting, journey.StatusCompleted, journey.StatusFailed, journey.StatusExited} {
			c[s] = counts[j.ID][s]
		}
		out = append(out, Summary{Journey: j, Enabled: on, Counts: c})
	}
	return out, nil
}

// Journey is one registered journey's summary and its ten most recently touched runs.
func (a *Admin) Journey(ctx context.Context, id string) (Summary, []store.JourneyState, error) {
	if _, ok := a.Registry.Get(id); !ok {
		return Summary{}, nil, ErrJourneyNotFound
	}
	all, err := a.Journeys(ctx, nil)
	if err != nil {
		return Summary{}, nil, err
	}
	var sum Summary
	for _, s := range all {
		if s.Journey.ID == id {
			sum = s
		}
	}
	recent, err := store.RecentJourneyStates(ctx, a.Ingest.DB, id, 10)
	return sum, recent, err
}

// SetEnabled sets the admin switch of a registered journey. Running enrolments are untouched.
func (a *Admin) SetEnabled(ctx context.Context, id string, enabled bool) (*journey.Journey, time.Time, error) {
	j, ok := a.Registry.Get(id)
	if !ok {
		return nil, time.Time{}, ErrJourneyNotFound
	}
	at, err := store.SetJourneySwitch(ctx, a.Ingest.DB, id, enabled)
	return j, at, err
}

// States pages a registered journey's runs.
func (a *Admin) States(ctx context.Context, f store.JourneyStateFilter, limit, offset int) ([]store.JourneyState, int, error) {
	if _, ok := a.Registry.Get(f.JourneyID); !ok {
		return nil, 0, ErrJourneyNotFound
	}
	return store.ListJourneyStates(ctx, a.Ingest.DB, f, limit, offset)
}

// State is one run (of journeyID, "" = any) with its logs.
func (a *Admin) State(ctx context.Context, journeyID, stateID string) (store.JourneyState, []store.JourneyLog, error) {
	s, err := store.LiveJourneyState(ctx, a.Ingest.DB, stateID, journeyID)
	if errors.Is(err, store.ErrNotFound) {
		return s, nil, ErrStateNotFound
	}
	if err != nil {
		return s, nil, err
	}
	logs, err := store.JourneyLogs(ctx, a.Ingest.DB, stateID)
	return s, logs, err
}

// Cancel exits a live run (admin_cancel): the state change and a durable exit signal commit
// together; the signal is also sent at once, and signalled says whether Temporal took it.
func (a *Admin) Cancel(ctx context.Context, journeyID, stateID string) (state store.JourneyState, signalled bool, err error) {
	s, err := store.LiveJourneyState(ctx, a.Ingest.DB, stateID, journeyID)
	if errors.Is(err, store.ErrNotFound) {
		return s, false, ErrStateNotFound
	}
	if err != nil {
		return s, false, err
	}
	payload := journey.ExitSignal{StateID: s.ID, Reason: journey.ExitAdminCancel}
	var ok bool
	err = store.WithTx(ctx, a.Ingest.DB, func(tx pgx.Tx) error {
		if ok, err = store.ExitJourney(ctx, tx, s.ID, journey.ExitAdminCancel, ""); err != nil || !ok {
			return err
		}
		_, err := outbox.Append(ctx, tx, []outbox.Intent{signalRun(s, journey.SignalExit, payload, "exit:"+s.ID)})
		return err
	})
	if err != nil {
		return s, false, err
	}
	if s, err = store.JourneyStateByID(ctx, a.Ingest.DB, stateID); err != nil {
		return s, false, err
	}
	if !ok {
		return s, false, &StateEndedError{Status: s.Status}
	}
	a.Ingest.Kick()
	if a.Temporal != nil && s.WorkflowID != nil && s.RunID != nil {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		signalled = a.Temporal.SignalWorkflow(sctx, *s.WorkflowID, *s.RunID, journey.SignalExit, payload) == nil
	}
	return s, signalled, nil
}

// EnrollUser is one manual enrolment.
type EnrollUser struct {
	UserID     string         `json:"userId"`
	UserEmail  string         `json:"userEmail"`
	Properties map[string]any `json:"properties"`
}

// Enroll ingests the journey's trigger event for a user: every journey sharing the trigger may
// enroll, and all guards apply (as in the reference).
func (a *Admin) Enroll(ctx context.Context, journeyID string, u EnrollUser) (string, error) {
	j, ok := a.Registry.Get(journeyID)
	if !ok {
		return "", ErrJourneyNotFound
	}
	_, err := a.Ingest.Ingest(ctx, ingest.Event{Name: j.Trigger.Event, UserID: u.UserID, Email: u.UserEmail, EventProperties: u.Properties})
	return j.Trigger.Event, err
}

// EnrollResult is one user's outcome of a batch enrolment: false only when its ingest failed.
type EnrollResult struct {
	UserID   string `json:"userId"`
	Enrolled bool   `json:"enrolled"`
}

// EnrollBatch enrolls users 25 at a time.
func (a *Admin) EnrollBatch(ctx context.Context, journeyID string, users []EnrollUser) ([]EnrollResult, error) {
	if _, ok := a.Registry.Get(journeyID); !ok {
		return nil, ErrJourneyNotFound
	}
	out := make([]EnrollResult, len(users))
	const chunk = 25
	for start := 0; start < len(users); start += chunk {
		var wg sync.WaitGroup
		for i := start; i < min(start+chunk, len(users)); i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := a.Enroll(ctx, journeyID, users[i])
				out[i] = EnrollResult{UserID: users[i].UserID, Enrolled: err == nil}
			}()
		}
		wg.Wait()
	}
	return out, nil
}
