package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// JourneySender is the email pipeline as journeys use it. A suppressed, unsubscribed or capped
// recipient is a result; an error fails the send (and, after retries, the run).
type JourneySender interface {
	SendJourneyEmail(ctx context.Context, s contract.JourneySend) (journey.SendEmailResult, error)
}

// Journeys are the activities of journey runs.
type Journeys struct {
	DB     store.DBTX
	Ingest *ingest.Service
	Sender JourneySender
	Logger *slog.Logger
	Now    func() time.Time
}

func (a *Journeys) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Transition applies one conditional state change and its log row; completion also records the
// outbound journey.completed event in the same transaction.
func (a *Journeys) Transition(ctx context.Context, in contract.TransitionInput) (contract.TransitionResult, error) {
	t := store.Transition{StateID: in.StateID, Step: in.Step, Label: in.Label, Detail: in.Detail}
	var ok bool
	apply := func(tx store.DBTX) error {
		if in.RunID != "" {
			mine, err := store.ClaimJourneyRun(ctx, tx, in.StateID, in.RunID)
			if err != nil || !mine {
				return err // not ours: Applied stays false and the run stops
			}
		}
		var err error
		switch in.Kind {
		case contract.TransitionWait:
			ok, err = store.EnterWait(ctx, tx, t, in.Event, in.Token, in.WakeAt)
		case contract.TransitionResume:
			ok, err = store.ResumeWait(ctx, tx, t)
		case contract.TransitionCheckpoint:
			ok, err = store.CheckpointJourney(ctx, tx, t)
		case contract.TransitionFail:
			ok, err = store.FailJourney(ctx, tx, in.StateID, in.Message)
		case contract.TransitionExit:
			ok, err = store.ExitJourney(ctx, tx, in.StateID, in.Message, in.Event)
		case contract.TransitionComplete:
			if ok, err = store.CompleteJourney(ctx, tx, in.StateID); ok && err == nil && in.Completed != nil {
				data := *in.Completed
				data.CompletedAt = journey.Timestamp(a.now())
				s, err := store.JourneyStateByID(ctx, tx, in.StateID)
				if err != nil {
					return err
				}
				data.UserEmail = s.UserEmail // never in the run's history
				_, err = outbox.Append(ctx, tx, []outbox.Intent{outbound.Emit(outbound.JourneyCompleted, data,
					outbound.JourneyCompleted+":"+in.StateID, a.now())})
			}
		default:
			return temporal.NewNonRetryableApplicationError("unknown transition "+in.Kind, "BadTransition", nil)
		}
		return err
	}
	var err error
	if in.RunID != "" || in.Kind == contract.TransitionComplete {
		// Several writes that must land together.
		err = store.WithTx(ctx, a.DB, func(tx pgx.Tx) error { return apply(tx) })
	} else {
		err = apply(a.DB) // one statement: no transaction round trips
	}
	if err != nil {
		return contract.TransitionResult{}, fmt.Errorf("journey %s %s: %w", in.StateID, in.Kind, err)
	}
	if ok && in.Kind == contract.TransitionComplete && in.Completed != nil && a.Ingest != nil {
		a.Ingest.Kick()
	}
	return contract.TransitionResult{Applied: ok}, nil
}

// Send sends one email unless the run has ended, and logs the outcome once.
func (a *Journeys) Send(ctx context.Context, in contract.SendInput) (journey.SendEmailResult, error) {
	state, err := a.requireLive(ctx, in.Send.StateID, in.RunID)
	if err != nil {
		return journey.SendEmailResult{}, err
	}
	if in.Send.To == "" { // the enrolled address, kept out of the run's history
		in.Send.To = state.UserEmail
	}
	if a.Sender == nil {
		return journey.SendEmailResult{}, temporal.NewNonRetryableApplicationError("no email sender is configured", "NoSender", nil)
	}
	res, err := a.Sender.SendJourneyEmail(ctx, in.Send)
	if err != nil {
		return res, err
	}
	detail := map[string]any{"template": in.Send.Template, "emailSendId": res.EmailSendID, "status": res.Status}
	if res.Reason != "" {
		detail["reason"] = res.Reason
	}
	return res, store.LogJourneyStep(ctx, a.DB, in.Send.StateID, in.Step, "email_sent", detail)
}

// requireLive refuses a side effect for a run that has ended: no email after an exit, even
// when the exit signal was lost. It returns the live state.
func (a *Journeys) requireLive(ctx context.Context, stateID, runID string) (store.JourneyState, error) {
	if runID != "" {
		mine, err := store.ClaimJourneyRun(ctx, a.DB, stateID, runID)
		if err != nil {
			return store.JourneyState{}, err
		}
		if !mine {
			return store.JourneyState{}, temporal.NewNonRetryableApplicationError("another run executes this enrolment", contract.ErrExitedType, nil)
		}
	}
	s, err := store.JourneyStateByID(ctx, a.DB, stateID)
	if err != nil {
		return store.JourneyState{}, err
	}
	if s.Status != journey.StatusActive && s.Status != journey.StatusWaiting {
		return store.JourneyState{}, temporal.NewNonRetryableApplicationError("journey run has ended", contract.ErrExitedType, nil)
	}
	return s, nil
}

// Trigger ingests an event through the whole pipeline (exits, wake-ups, enrolments), once.
func (a *Journeys) Trigger(ctx context.Context, in contract.TriggerInput) error {
	if _, err := a.requireLive(ctx, in.StateID, in.RunID); err != nil {
		return err
	}
	ev := ingest.Event{Name: in.Event, UserID: in.UserID, Email: in.Email,
		EventProperties: in.Properties, IdempotencyKey: in.IdempotencyKey}
	// A user key may be a contact's uuid or anonymous id rather than an external id: address a
	// known contact by its own identity, so the event lands on it and changes no identity.
	if c, err := store.LiveContactByKey(ctx, a.DB, in.UserID); err == nil {
		ev.UserID, ev.AnonymousID, ev.Email = ptr.Deref(c.ExternalID), ptr.Deref(c.AnonymousID), ptr.Deref(c.Email)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err := a.Ingest.Ingest(ctx, ev)
	var invalid *ingest.ValidationError
	if errors.As(err, &invalid) {
		return temporal.NewNonRetryableApplicationError(invalid.Msg, "InvalidEvent", nil)
	}
	if err != nil {
		return err
	}
	return store.LogJourneyStep(ctx, a.DB, in.StateID, in.Step, "event_triggered", map[string]any{"event": in.Event, "userId": in.UserID})
}

// Lookup answers a run's history questions (events, journeys, sends, subscription).
func (a *Journeys) Lookup(ctx context.Context, in contract.LookupInput) (contract.LookupResult, error) {
	switch in.Kind {
	case contract.LookupSubscribed:
		unsub, err := store.UnsubscribedAll(ctx, a.DB, in.UserID)
		return contract.LookupResult{Yes: !unsub}, err
	case contract.LookupEvent:
		n, err := store.CountUserEvents(ctx, a.DB, in.UserID, in.Event, in.Since)
		return contract.LookupResult{Count: n, Yes: n > 0}, err
	case contract.LookupJourney:
		n, last, err := store.JourneyEntries(ctx, a.DB, in.UserID, in.JourneyID)
		return contract.LookupResult{Count: n, Yes: last != nil, Last: ptr.Map(last, journey.Timestamp)}, err
	case contract.LookupBucket:
		yes, err := store.IsMember(ctx, a.DB, in.BucketID, in.UserID)
		return contract.LookupResult{Yes: yes}, err
	case contract.LookupEmail:
		n, last, err := store.TemplateSends(ctx, a.DB, in.Email, in.Template)
		return contract.LookupResult{Count: n, Yes: n > 0, Last: ptr.Map(last, journey.Timestamp)}, err
	}
	return contract.LookupResult{}, temporal.NewNonRetryableApplicationError("unknown lookup "+in.Kind, "BadLookup", nil)
}

// RecordingSender replaces the email pipeline in tests of journey orchestration: it records each
// journey send once per idempotency key and reports it sent.
type RecordingSender struct {
	Logger *slog.Logger

	mu   sync.Mutex
	sent []contract.JourneySend
	seen map[string]bool
}

// SendJourneyEmail records a send.
func (r *RecordingSender) SendJourneyEmail(_ context.Context, s contract.JourneySend) (journey.SendEmailResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if !r.seen[s.IdempotencyKey] {
		r.seen[s.IdempotencyKey] = true
		r.sent = append(r.sent, s)
		if r.Logger != nil {
			r.Logger.Info("journey email recorded", "template", s.Template, "stateId", s.StateID, "journeyId", s.JourneyID)
		}
	}
	return journey.SendEmailResult{Status: journey.SendSent, SentAt: journey.Timestamp(time.Now())}, nil
}

// Sent returns the recorded sends in order.
func (r *RecordingSender) Sent() []contract.JourneySend {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]contract.JourneySend(nil), r.sent...)
}
