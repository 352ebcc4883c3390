package journeytest

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/journey"
)

// activityFakes implement the journey activities over the in-memory fakes.
type activityFakes struct{ f *fakes }

func (a activityFakes) byName() map[string]any {
	return map[string]any{
		contract.JourneyTransitionName: a.Transition,
		contract.JourneySendName:       a.Send,
		contract.JourneyTriggerName:    a.Trigger,
		contract.JourneyLookupName:     a.Lookup,
	}
}

func (a activityFakes) Transition(_ context.Context, in contract.TransitionInput) (contract.TransitionResult, error) {
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	applied := f.live()
	switch in.Kind {
	case contract.TransitionResume:
		applied = f.status == journey.StatusWaiting
	}
	if !applied {
		return contract.TransitionResult{}, nil
	}
	now := f.env.Now()
	switch in.Kind {
	case contract.TransitionWait:
		f.status, f.node, f.waitingEvent, f.waitToken = journey.StatusWaiting, in.Label, in.Event, in.Token
	case contract.TransitionResume:
		f.status, f.waitingEvent, f.waitToken = journey.StatusActive, "", ""
	case contract.TransitionCheckpoint:
		f.node = in.Label
	case contract.TransitionComplete:
		f.status, f.node, f.endedAt = journey.StatusCompleted, "done", now
	case contract.TransitionFail:
		f.status, f.errMsg, f.endedAt = journey.StatusFailed, in.Message, now
	case contract.TransitionExit:
		f.status, f.endedAt = journey.StatusExited, now
	default:
		return contract.TransitionResult{}, errors.New("unknown transition " + in.Kind)
	}
	action := map[string]string{contract.TransitionWait: "waiting", contract.TransitionResume: "resumed",
		contract.TransitionCheckpoint: "checkpoint", contract.TransitionComplete: "completed",
		contract.TransitionFail: "failed", contract.TransitionExit: "exited"}[in.Kind]
	f.steps = append(f.steps, action+":"+f.node)
	return contract.TransitionResult{Applied: true}, nil
}

func (a activityFakes) endedError() error {
	return temporal.NewNonRetryableApplicationError("journey run has ended", contract.ErrExitedType, nil)
}

func (a activityFakes) Send(_ context.Context, in contract.SendInput) (journey.SendEmailResult, error) {
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.live() {
		return journey.SendEmailResult{}, a.endedError()
	}
	now := f.env.Now()
	if !f.sentKeys[in.Send.IdempotencyKey] {
		f.sentKeys[in.Send.IdempotencyKey] = true
		to := in.Send.To
		if to == "" { // as the real activity does: the enrolled address
			to = f.user.Email
		}
		f.sent = append(f.sent, Send{Template: in.Send.Template, To: to, Props: in.Send.Props, At: now})
		f.steps = append(f.steps, "email_sent:"+in.Send.Template)
	}
	return journey.SendEmailResult{Status: journey.SendSent, SentAt: now.UTC().Format(time.RFC3339)}, nil
}

func (a activityFakes) Trigger(_ context.Context, in contract.TriggerInput) error {
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

func (a activityFakes) Lookup(_ context.Context, in contract.LookupInput) (contract.LookupResult, error) {
	f := a.f
	f.mu.Lock()
	defer f.mu.Unlock()
	switch in.Kind {
	case contract.LookupSubscribed:
		return contract.LookupResult{Yes: !f.unsubscribed}, nil
	case contract.LookupEvent:
		n := f.hasEvent(in.Event, in.Since)
		return contract.LookupResult{Count: n, Yes: n > 0}, nil
	case contract.LookupJourney:
		return contract.LookupResult{Count: 1}, nil
	case contract.LookupBucket:
		return contract.LookupResult{Yes: f.buckets[in.BucketID]}, nil
	case contract.LookupEmail:
		n := 0
		for _, s := range f.sent {
			if s.Template == in.Template && s.To == in.Email {
				n++
			}
		}
		return contract.LookupResult{Count: n, Yes: n > 0}, nil
	}
	return contract.LookupResult{}, errors.New("unknown lookup " + in.Kind)
}
