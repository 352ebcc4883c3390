package journey

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
)

// ErrExited is returned by every Context method once the run has been exited (an exitOn event,
// an admin cancel or a merge). Run should return it; the engine records "exited", not "failed".
var ErrExited = errors.New("journey exited")

// SleepResult tells when a wait started and ended (ISO 8601 UTC).
type SleepResult struct {
	SleptAt   string
	ResumedAt string
}

// WaitResult tells whether WaitForEvent gave up.
type WaitResult struct {
	TimedOut bool
}

// TriggerOptions is an event a run ingests (the way one journey enrolls a contact in another).
type TriggerOptions struct {
	Event      string
	UserID     string
	UserEmail  string // "" = the enrolled user's email
	Properties map[string]any
}

// JourneyHistory summarises a user's runs of a journey (every status, this run included).
type JourneyHistory struct {
	EntryCount      int
	Completed       bool
	LastCompletedAt *string
}

// EmailHistory summarises the sends of a template to an address (every status).
type EmailHistory struct {
	Count      int
	Sent       bool
	LastSentAt *string
}

// History looks things up for a run; each call is an activity.
type History interface {
	HasEvent(userID, event string, within *Duration) (found bool, count int, err error)
	Journey(userID, journeyID string) (JourneyHistory, error)
	Email(email, templateKey string) (EmailHistory, error)
	// InBucket reports whether the user is an active member of a bucket now.
	InBucket(userID, bucketID string) (bool, error)
}

// Context is what a journey's code uses; the engine's journey runner implements it on top of a
// Temporal workflow, and journey code never touches Temporal itself. Every method is durable:
// a worker restart resumes the run exactly where it waited.
type Context interface {
	// Sleep waits for d; label ("" = a default) becomes the run's current step.
	Sleep(d Duration, label string) (SleepResult, error)
	// SleepUntil waits until at (a past instant resumes at once). There is no upper limit.
	SleepUntil(at time.Time, label string) (SleepResult, error)
	// WaitForEvent waits for an event of this name for this contact (and key), arriving after the
	// wait began, or for timeout (required, positive).
	WaitForEvent(event string, timeout Duration, label string) (WaitResult, error)
	// Checkpoint records a step without waiting.
	Checkpoint(label string) error
	// Trigger ingests an event (idempotently per run step).
	Trigger(opts TriggerOptions) error
	// SendEmail sends a template through the email pipeline (category journey). A suppressed,
	// unsubscribed or capped recipient is a result, not an error; the run goes on.
	SendEmail(opts SendEmailOptions) (SendEmailResult, error)
	// IsSubscribed reports whether the contact has not unsubscribed from everything.
	IsSubscribed() (bool, error)
	// Seen reports whether the contact has had the event, within the last within (zero = ever).
	Seen(event string, within Duration) (bool, error)
	// History looks up events, journeys and sends.
	History() History
	// When schedules in the contact's zone with the engine's default send window.
	When() When
	// ExecuteActivity runs an activity the application registered with the worker (a CRM call,
	// a Slack message) with retries, decoding its result into result (nil = ignore it).
	ExecuteActivity(name string, result any, args ...any) error
	// Patched guards a change to the journey's code (workflow.GetVersion); change ids are forever.
	Patched(changeID string) bool
	// Logger is replay-safe.
	Logger() log.Logger
}

// SleepUntilISO is SleepUntil with an RFC 3339 instant; a malformed one is an error (the run
// fails).
func SleepUntilISO(ctx Context, at, label string) (SleepResult, error) {
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return SleepResult{}, fmt.Errorf("SleepUntilISO: %q is not an RFC 3339 time", at)
	}
	return ctx.SleepUntil(t, label)
}
