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

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Registered names of the journey activities. The runner calls them as local activities: each
// is one marker event in the run's history.
const (
	JourneyTransitionName = "hogsend-journey-transition"
	JourneySendName       = "hogsend-journey-send"
	JourneyTriggerName    = "hogsend-journey-trigger"
	JourneyLookupName     = "hogsend-journey-lookup"
)

// ErrExitedType is the application error type of a step refused because the run has ended.
const ErrExitedType = "JourneyExited"

// JourneySend is one journey email handed to the email pipeline.
type JourneySend struct {
	IdempotencyKey string // journey:<stateId>:email:<seq>
	StateID        string
	JourneyID      string
	JourneyName    string
	UserID         string
	To             string
	Template       string
	Subject        string
	Props          map[string]any
}

// JourneySender is the email pipeline as journeys use it. A suppressed, unsubscribed or capped
// recipient is a result; an error fails the send (and, after retries, the run).
type JourneySender interface {
	SendJourneyEmail(ctx context.Context, s JourneySend) (journey.SendEmailResult, error)
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

// Transition kinds.
const (
	TransitionWait       = "wait"
	TransitionResume     = "resume"
	TransitionCheckpoint = "checkpoint"
	TransitionComplete   = "complete"
	TransitionFail       = "fail"
	TransitionExit       = "exit"
)

// TransitionInput is one state change of a run.
type TransitionInput struct {
	Kind    string
	StateID string
	RunID   string // set on a run's first step: the state records the run executing it
	Step    string // deterministic per run step
	Label   string
	Detail  map[string]any
	// Wait fields.
	Event  string
	Token  string
	WakeAt *time.Time
	// Fail: the error text. Exit: the reason.
	Message string
	// Complete: the outbound journey.completed payload.
	Completed *JourneyCompletedData
}

// JourneyCompletedData is the payload of the outbound journey.completed event.
type JourneyCompletedData struct {
	JourneyID   string `json:"journeyId"`
	JourneyName string `json:"journeyName"`
	StateID     string `json:"stateId"`
	UserID      string `json:"userId"`
	UserEmail   string `json:"userEmail"`
	CompletedAt string `json:"completedAt"`
}

// TransitionResult is false when the run had already ended (the runner then stops as exited).
type TransitionResult struct {
	Applied bool
}

// Transition applies one conditional state change and its log row; completion also records the
// outbound journey.completed event in the same transaction.
func (a *Journeys) Transition(ctx context.Context, in TransitionInput) (TransitionResult, error) {
	t := store.Transition{StateID: in.StateID, Step: in.Step, Label: in.Label, Detail: in.Detail}
	var ok bool
	apply := func(tx store.DBTX) error {
		if in.RunID != "" {
			if err := store.SetJourneyRun(ctx, tx, in.StateID, in.RunID); err != nil {
				return err
			}
		}
		var err error
		switch in.Kind {
		case TransitionWait:
			ok, err = store.EnterWait(ctx, tx, t, in.Event, in.Token, in.WakeAt)
		case TransitionResume:
			ok, err = store.ResumeWait(ctx, tx, t)
		case TransitionCheckpoint:
			ok, err = store.CheckpointJourney(ctx, tx, t)
		case TransitionFail:
			ok, err = store.FailJourney(ctx, tx, in.StateID, in.Message)
		case TransitionExit:
			ok, err = store.ExitJourney(ctx, tx, in.StateID, in.Message, in.Event)
		case TransitionComplete:
			if ok, err = store.CompleteJourney(ctx, tx, in.StateID); ok && err == nil && in.Completed != nil {
				data := *in.Completed
				data.CompletedAt = ingest.Timestamp(a.now())
				_, err = outbox.Append(ctx, tx, []outbox.Intent{outbound.Emit(outbound.JourneyCompleted, data,
					outbound.JourneyCompleted+":"+in.StateID, a.now())})
			}
		default:
			return temporal.NewNonRetryableApplicationError("unknown transition "+in.Kind, "BadTransition", nil)
		}
		return err
	}
	var err error
	if in.RunID != "" || in.Kind == TransitionComplete {
		// Several writes that must land together.
		err = store.WithTx(ctx, a.DB, func(tx pgx.Tx) error { return apply(tx) })
	} else {
		err = apply(a.DB) // one statement: no transaction round trips
	}
	if err != nil {
		return TransitionResult{}, fmt.Errorf("journey %s %s: %w", in.StateID, in.Kind, err)
	}
	if ok && in.Kind == TransitionComplete && in.Completed != nil && a.Ingest != nil {
		a.Ingest.Kick()
	}
	return TransitionResult{Applied: ok}, nil
}

// SendInput is one journey send.
type SendInput struct {
	Send  JourneySend
	Step  string // log step key
	RunID string // as in TransitionInput
}

// Send sends one email unless the run has ended, and logs the outcome once.
func (a *Journeys) Send(ctx context.Context, in SendInput) (journey.SendEmailResult, error) {
	if err := a.requireLive(ctx, in.Send.StateID, in.RunID); err != nil {
		return journey.SendEmailResult{}, err
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
// when the exit signal was lost.
func (a *Journeys) requireLive(ctx context.Context, stateID, runID string) error {
	if runID != "" {
		if err := store.SetJourneyRun(ctx, a.DB, stateID, runID); err != nil {
			return err
		}
	}
	s, err := store.JourneyStateByID(ctx, a.DB, stateID)
	if err != nil {
		return err
	}
	if s.Status != journey.StatusActive && s.Status != journey.StatusWaiting {
		return temporal.NewNonRetryableApplicationError("journey run has ended", ErrExitedType, nil)
	}
	return nil
}

// TriggerInput is an event a run ingests.
type TriggerInput struct {
	StateID        string
	RunID          string // as in TransitionInput
	Step           string
	IdempotencyKey string // journey:<stateId>:trigger:<seq>
	Event          string
	UserID         string
	Email          string
	Properties     map[string]any
}

// Trigger ingests an event through the whole pipeline (exits, wake-ups, enrolments), once.
func (a *Journeys) Trigger(ctx context.Context, in TriggerInput) error {
	if err := a.requireLive(ctx, in.StateID, in.RunID); err != nil {
		return err
	}
	ev := ingest.Event{Name: in.Event, UserID: in.UserID, Email: in.Email,
		EventProperties: in.Properties, IdempotencyKey: in.IdempotencyKey}
	// A user key may be a contact's uuid or anonymous id rather than an external id: address a
	// known contact by its own identity, so the event lands on it and changes no identity.
	if c, err := store.LiveContactByKey(ctx, a.DB, in.UserID); err == nil {
		ev.UserID, ev.AnonymousID, ev.Email = deref(c.ExternalID), deref(c.AnonymousID), deref(c.Email)
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

// Lookup kinds.
const (
	LookupSubscribed = "subscribed"
	LookupEvent      = "event"
	LookupJourney    = "journey"
	LookupEmail      = "email"
)

// LookupInput is one history question.
type LookupInput struct {
	Kind      string
	UserID    string
	Event     string
	Since     *time.Time // event lookups: only events at or after
	JourneyID string
	Email     string
	Template  string
}

// LookupResult answers it.
type LookupResult struct {
	Count int
	Yes   bool
	Last  *string
}

// Lookup answers a run's history questions (events, journeys, sends, subscription).
func (a *Journeys) Lookup(ctx context.Context, in LookupInput) (LookupResult, error) {
	iso := func(t *time.Time) *string {
		if t == nil {
			return nil
		}
		s := ingest.Timestamp(*t)
		return &s
	}
	switch in.Kind {
	case LookupSubscribed:
		unsub, err := store.UnsubscribedAll(ctx, a.DB, in.UserID)
		return LookupResult{Yes: !unsub}, err
	case LookupEvent:
		n, err := store.CountUserEvents(ctx, a.DB, in.UserID, in.Event, in.Since)
		return LookupResult{Count: n, Yes: n > 0}, err
	case LookupJourney:
		n, last, err := store.JourneyEntries(ctx, a.DB, in.UserID, in.JourneyID)
		return LookupResult{Count: n, Yes: last != nil, Last: iso(last)}, err
	case LookupEmail:
		n, last, err := store.TemplateSends(ctx, a.DB, in.Email, in.Template)
		return LookupResult{Count: n, Yes: n > 0, Last: iso(last)}, err
	}
	return LookupResult{}, temporal.NewNonRetryableApplicationError("unknown lookup "+in.Kind, "BadLookup", nil)
}

// RecordingSender replaces the email pipeline in tests of journey orchestration: it records each
// journey send once per idempotency key and reports it sent.
type RecordingSender struct {
	Logger *slog.Logger

	mu   sync.Mutex
	sent []JourneySend
	seen map[string]bool
}

// SendJourneyEmail records a send.
func (r *RecordingSender) SendJourneyEmail(_ context.Context, s JourneySend) (journey.SendEmailResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	if !r.seen[s.IdempotencyKey] {
		r.seen[s.IdempotencyKey] = true
		r.sent = append(r.sent, s)
		if r.Logger != nil {
			r.Logger.Info("journey email recorded", "template", s.Template, "to", s.To, "journeyId", s.JourneyID)
		}
	}
	return journey.SendEmailResult{Status: journey.SendSent, SentAt: ingest.Timestamp(time.Now())}, nil
}

// Sent returns the recorded sends in order.
func (r *RecordingSender) Sent() []JourneySend {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]JourneySend(nil), r.sent...)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
