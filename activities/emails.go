package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/journey"
)

// MailerJourneySender sends journey emails through the tracked send pipeline. Provider errors
// are classified for Temporal: a permanent refusal is not retried; anything else is, and the
// step's idempotency key makes the retry safe.
type MailerJourneySender struct {
	Mailer *mailer.Mailer
}

// SendJourneyEmail implements JourneySender.
func (s MailerJourneySender) SendJourneyEmail(ctx context.Context, in contract.JourneySend) (journey.SendEmailResult, error) {
	res, err := s.Mailer.SendJourney(ctx, mailer.JourneyEmail{IdempotencyKey: in.IdempotencyKey, StateID: in.StateID,
		JourneyID: in.JourneyID, JourneyName: in.JourneyName, UserID: in.UserID, To: in.To, Template: in.Template,
		Subject: in.Subject, Props: in.Props})
	switch {
	case errors.Is(err, mailer.ErrTemplateNotFound):
		return journey.SendEmailResult{}, temporal.NewNonRetryableApplicationError("unknown email template "+in.Template, contract.ErrTemplateNotFoundType, err)
	case errors.Is(err, mailer.ErrNoRecipient):
		return journey.SendEmailResult{}, temporal.NewNonRetryableApplicationError("the contact has no email address", contract.ErrSendPermanentType, err)
	case err != nil && !email.Retryable(err):
		return journey.SendEmailResult{}, temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrSendPermanentType, err)
	case err != nil:
		return journey.SendEmailResult{}, err
	}
	return journey.SendEmailResult{EmailSendID: res.EmailSendID, Status: res.Status, Reason: res.Reason,
		SentAt: journey.Timestamp(time.Now())}, nil
}
