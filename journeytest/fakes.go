package journeytest

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hogsend/hogsend/activities"
	"github.com/hogsend/hogsend/journey"
)

// activityFakes implement the journey activities over the in-memory fakes.
type activityFakes struct{ f *fakes }

func (a activityFakes) byName() map[string]any {
	return map[string]any{
		activities.JourneyTransitionName: a.Transition,
		activities.JourneySendName:       a.Send,
		activities.JourneyTriggerName:    a.Trigger,
		activities.JourneyLookupName:     a.Lookup,
	}
}

func (a activityFakes) Transition(_ context.Context, in activities.TransitionInput) (activities.TransitionResult, error) {
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	applied := f.live()
	switch in.Kind {
	case activities.TransitionResume:
		applied = f.status == journey.StatusWaiting
	}
	if !applied {
		return activities.TransitionResult{}, nil
	}
	now := f.env.Now()
	switch in.Kind {
	case activities.TransitionWait:
		f.status, f.node, f.waitingEvent, f.waitToken = journey.StatusWaiting, in.Label, in.Event, in.Token
	case activities.TransitionResume:
		f.status, f.waitingEvent, f.waitToken = journey.StatusActive, "", ""
	case activities.TransitionCheckpoint:
		f.node = in.Label
	case activities.TransitionComplete:
		f.status, f.node, f.endedAt = journey.StatusCompleted, "done", now
	case activities.TransitionFail:
		f.status, f.errMsg, f.endedAt = journey.StatusFailed, in.Message, now
	case activities.TransitionExit:
		f.status, f.endedAt = journey.StatusExited, now
	default:
		return activities.TransitionResult{}, errors.New("unknown transition " + in.Kind)
	}
	action := map[string]string{activities.TransitionWait: "waiting", activities.TransitionResume: "resumed",
		activities.TransitionCheckpoint: "checkpoint", activities.TransitionComplete: "completed",
		activities.TransitionFail: "failed", activities.TransitionExit: "exited"}[in.Kind]
	f.steps = append(f.steps, action+":"+f.node)
	return activities.TransitionResult{Applied: true}, nil
}

func (a activityFakes) endedError() error {
	return temporal.NewNonRetryableApplicationError("journey run has ended", activities.ErrExitedType, nil)
}

func (a activityFakes) Send(_ context.Context, in activities.SendInput) (journey.SendEmailResult, error) {
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live() {
		return journey.SendEmailResult{}, a.endedError()
	}
	now := f.env.Now()
	if !f.sentKeys[in.Send.IdempotencyKey] {
		f.sentKeys[in.Send.IdempotencyKey] = true
		f.sent = append(f.sent, Send{Template: in.Send.Template, To: in.Send.To, Props: in.Send.Props, At: now})
		f.steps = append(f.steps, "email_sent:"+in.Send.Template)
	}
	return journey.SendEmailResult{Status: journey.SendSent, SentAt: now.UTC().Format(time.RFC3339)}, nil
}

func (a activityFakes) Trigger(_ context.Context, in activities.TriggerInput) error {
	f := a.f
	f.mu.Lock()
	if !f.live() {
		f.mu.Unlock()
		return a.endedError()
	}
	dup := f.triggerKeys[in.IdempotencyKey]
	f.triggerKeys[in.IdempotencyKey] = true
	if !dup {
		f.triggered = append(f.triggered, in.Event)
		f.steps = append(f.steps, "event_triggered:"+in.Event)
	}
	self := in.UserID == f.user.ID
	f.mu.Unlock()
	if !dup && self {
		f.ingest(in.Event, in.Properties)
	}
	return nil
}

func (a activityFakes) Lookup(_ context.Context, in activities.LookupInput) (activities.LookupResult, error) {
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	switch in.Kind {
	case activities.LookupSubscribed:
		return activities.LookupResult{Yes: !f.unsubscribed}, nil
	case activities.LookupEvent:
		n := f.hasEvent(in.Event, in.Since)
		return activities.LookupResult{Count: n, Yes: n > 0}, nil
	case activities.LookupJourney:
		return activities.LookupResult{Count: 1}, nil
	case activities.LookupEmail:
		n := 0
		for _, s := range f.sent {
			if s.Template == in.Template && s.To == in.Email {
				n++
			}
		}
		return activities.LookupResult{Count: n, Yes: n > 0}, nil
	}
	return activities.LookupResult{}, errors.New("unknown lookup " + in.Kind)
}
