package mailer_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/mailer"
)

const doc = `<html><body>
<a href="https://app.example.com/d?a=1&amp;b=2">Dashboard</a>
<a HREF="https://app.example.com/d?a=1&amp;b=2">again</a>
<a href="mailto:help@example.com">Mail us</a>
<a href='https://single.example.com/'>single</a>
<a href="http://docs.example.com/start">Docs</a>
<a href="https://api.example.com/v1/email/unsubscribe?token=t">Unsubscribe</a>
</body></html>`

func TestTrackableLinksAreDecodedAndDistinct(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"https://app.example.com/d?a=1&b=2", "http://docs.example.com/start"}, mailer.TrackableLinks(doc))
	require.Empty(t, mailer.TrackableLinks(`<p>no links</p>`))
}

func TestRewriteLinksAndPixel(t *testing.T) {
	t.Parallel()
	out := mailer.RewriteLinks(doc, map[string]string{
		"https://app.example.com/d?a=1&b=2": "https://api.example.com/v1/t/c/11111111-1111-4111-8111-111111111111",
		"http://docs.example.com/start":     "https://api.example.com/v1/t/c/22222222-2222-4222-8222-222222222222",
	})
	require.Equal(t, []string{"https://api.example.com/v1/t/c/11111111-1111-4111-8111-111111111111",
		"https://api.example.com/v1/t/c/22222222-2222-4222-8222-222222222222"}, mailer.TrackableLinks(out))
	require.Contains(t, out, `href="mailto:help@example.com"`)
	require.Contains(t, out, `href='https://single.example.com/'`)
	require.Contains(t, out, `href="https://api.example.com/v1/email/unsubscribe?token=t"`, "the engine's own links stay")
	require.NotContains(t, out, "app.example.com")

	px := mailer.InsertPixel(out, "https://api.example.com/v1/t/o/33333333-3333-4333-8333-333333333333")
	require.Contains(t, px, `<img src="https://api.example.com/v1/t/o/33333333-3333-4333-8333-333333333333" width="1" height="1" alt="" style="display:none" /></body>`)
	require.Equal(t, "<p>x</p><img src=\"p\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\" />", mailer.InsertPixel("<p>x</p>", "p"))
}
