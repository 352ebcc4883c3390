package mailer

import (
	"context"
	"strings"

	"github.com/hogsend/hogsend/email"
)

// JourneyEmail is one send of a journey run.
type JourneyEmail struct {
	IdempotencyKey string // deterministic per run and step, so a retried step never sends twice
	StateID        string
	JourneyID      string
	JourneyName    string
	UserID         string
	To             string
	Template       string
	Subject        string // "" = the template's default subject
	Props          email.Props
}

// SendJourney sends a journey email: category journey, a global (category-less) unsubscribe link
// and header, and the props every journey template may use (name, journeyName, eventName, body).
func (m *Mailer) SendJourney(ctx context.Context, j JourneyEmail) (Result, error) {
	def, ok := m.cfg.Templates.Get(j.Template)
	if !ok {
		return Result{}, ErrTemplateNotFound
	}
	subject := j.Subject
	if subject == "" {
		subject = def.DefaultSubject
	}
	to := strings.ToLower(strings.TrimSpace(j.To))
	unsubscribe := m.UnsubscribeURL(j.UserID, to, ActionUnsubscribe, "")
	props := make(email.Props, len(j.Props)+5)
	for k, v := range j.Props {
		props[k] = v
	}
	props["name"] = firstString(props["firstName"], props["name"], localPart(to))
	journeyName := j.JourneyName
	if journeyName == "" {
		journeyName = j.Template
	}
	props["journeyName"] = journeyName
	props["eventName"] = j.Template
	props["body"] = subject
	props["unsubscribeUrl"] = unsubscribe
	return m.Send(ctx, SendOptions{
		Template: j.Template, Props: props, To: to, Subject: subject, JourneyStateID: j.StateID,
		UserID: j.UserID, UserEmail: to, Category: email.CategoryJourney, IdempotencyKey: j.IdempotencyKey,
		Headers: map[string]string{"List-Unsubscribe": "<" + unsubscribe + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
		Tags: []email.Tag{{Name: "journeyId", Value: j.JourneyID}, {Name: "templateKey", Value: j.Template},
			{Name: "userId", Value: j.UserID}},
	})
}

func firstString(vs ...any) string {
	for _, v := range vs {
		if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func localPart(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	return local
}
