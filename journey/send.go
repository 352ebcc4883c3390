package journey

import (
	"fmt"

	"github.com/hogsend/hogsend/email"
)

// SendEmailOptions is one journey send. Zero fields default to the enrolled user.
type SendEmailOptions struct {
	Template string
	To       string // "" = the enrolled user's email
	Subject  string // "" = the template's default subject
	Props    map[string]any
}

// Send outcomes.
const (
	SendSent         = "sent"
	SendSuppressed   = "suppressed"
	SendUnsubscribed = "unsubscribed"
	SendSkipped      = "skipped"
)

// SendEmailResult is what the pipeline did with a send.
type SendEmailResult struct {
	EmailSendID string `json:"emailSendId,omitempty"`
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
	SentAt      string `json:"sentAt,omitempty"`
}

// Send sends a typed template to the enrolled user. It is a function rather than a Context
// method because methods cannot take type parameters.
func Send[P any](ctx Context, t email.Template[P], props P) (SendEmailResult, error) {
	return SendTo(ctx, t, props, SendEmailOptions{})
}

// SendTo is Send with a recipient or subject override (opts.Template and opts.Props are set
// from t and props).
func SendTo[P any](ctx Context, t email.Template[P], props P, opts SendEmailOptions) (SendEmailResult, error) {
	m, err := email.PropsOf(props)
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("template %s: %w", t.Key, err)
	}
	opts.Template, opts.Props = t.Key, m
	return ctx.SendEmail(opts)
}
