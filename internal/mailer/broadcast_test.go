package mailer_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/mailer"
)

func TestABroadcastPersonalisesItsOneRenderAndFallsBackWhenItCannot(t *testing.T) {
	t.Parallel()
	templates := email.NewRegistry().
		MustRegister(email.TemplateDef{Key: "plain", DefaultSubject: "News",
			HTML: email.MustParseHTML("plain", `{{define "content"}}<a href="https://x.example/n">n</a> <a href="{{.unsubscribeUrl}}">leave</a>{{end}}`)}).
		MustRegister(email.TemplateDef{Key: "escaped", DefaultSubject: "News",
			HTML: email.MustParseHTML("escaped", `{{define "content"}}<p>{{urlquery .unsubscribeUrl}}</p>{{end}}`)})
	for _, key := range []string{"plain", "escaped"} {
		t.Run(key, func(t *testing.T) {
			p := &flakyProvider{}
			m, _, _ := newMailerOn(t, p, func(c *mailer.Config) { c.Templates = templates })
			res, err := m.SendBroadcast(context.Background(), mailer.Broadcast{Template: key, Recipients: []mailer.BroadcastRecipient{
				{To: "a@x.com", IdempotencyKey: key + ":a"}, {To: "b@x.com", IdempotencyKey: key + ":b"}}})
			require.NoError(t, err)
			require.Len(t, p.sent, 2)
			for i, msg := range p.sent {
				require.NoError(t, res[i].Err)
				unsubscribe := strings.Trim(msg.Headers["List-Unsubscribe"], "<>")
				want := unsubscribe
				if key == "escaped" {
					want = url.QueryEscape(unsubscribe)
				}
				require.Contains(t, msg.HTML, want, "the body carries this recipient's own unsubscribe link, as the template writes it")
				require.NotContains(t, msg.HTML, "HOGSENDUNSUBSCRIBETOKEN")
			}
			require.NotEqual(t, p.sent[0].Headers["List-Unsubscribe"], p.sent[1].Headers["List-Unsubscribe"])
		})
	}
}
