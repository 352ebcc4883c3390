package email_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/hogsend/hogsend/email"
)

type welcomeProps struct {
	Name         string `json:"name,omitempty"`
	DashboardURL string `json:"dashboardUrl,omitempty"`
}

var welcome = email.Template[welcomeProps]{Key: "welcome"}

func registry(t *testing.T) *email.Registry {
	t.Helper()
	r := email.NewRegistry()
	require.NoError(t, r.Register(email.TemplateDef{
		Key: welcome.Key, DefaultSubject: "Welcome aboard", Category: email.CategoryTransactional,
		Preview: func(p email.Props) string { return fmt.Sprintf("Good to have you, %v", p["name"]) },
		HTML: email.MustParseHTML("welcome", `{{define "content"}}
			{{template "heading" "Lifecycle email, as code."}}
			{{template "paragraph" (print "Hi " (default "there" .name) ",")}}
			{{template "button" (dict "href" .dashboardUrl "label" "Open the dashboard")}}
		{{end}}`),
	}))
	return r
}

// hrefs are the decoded link targets of a document, as a mail client follows them.
func hrefs(t *testing.T, doc string) []string {
	t.Helper()
	root, err := html.Parse(strings.NewReader(doc))
	require.NoError(t, err)
	var out []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" {
			for _, a := range n.Attr {
				if a.Key == "href" {
					out = append(out, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}

func TestRenderPutsContentInTheLayoutAndLinksSurvive(t *testing.T) {
	t.Parallel()
	props, err := email.PropsOf(welcomeProps{Name: "Ada", DashboardURL: "https://app.example.com/d?a=1&b=2"})
	require.NoError(t, err)
	props["unsubscribeUrl"] = "https://api.example.com/v1/email/unsubscribe?token=x.y&src=mail"
	out, err := registry(t).Render(welcome.Key, props)
	require.NoError(t, err)

	require.Equal(t, "Welcome aboard", out.Subject)
	require.Equal(t, email.CategoryTransactional, out.Category)
	require.Equal(t, "Good to have you, Ada", out.Preview)
	require.Contains(t, out.HTML, "<html")
	require.Contains(t, out.HTML, "</body>")
	require.Contains(t, out.HTML, "Lifecycle email, as code.")
	require.Contains(t, out.HTML, "Hi Ada,")
	require.Contains(t, out.HTML, "display:none") // the preheader
	require.Equal(t, []string{"https://app.example.com/d?a=1&b=2", "https://api.example.com/v1/email/unsubscribe?token=x.y&src=mail"},
		hrefs(t, out.HTML), "links decode to what was passed, & included")
	require.NotContains(t, out.HTML, "Email preferences", "no preferences link without preferencesUrl")

	require.NotContains(t, out.Text, "<html")
	require.Contains(t, out.Text, "Hi Ada,")
	require.Contains(t, out.Text, "Open the dashboard (https://app.example.com/d?a=1&b=2)")
	require.NotContains(t, out.Text, "Good to have you", "the hidden preheader is not part of the text")
}

func TestTemplatesTolerateMissingProps(t *testing.T) {
	t.Parallel()
	out, err := registry(t).Render(welcome.Key, nil)
	require.NoError(t, err)
	require.Contains(t, out.HTML, "Hi there,")
	require.NotContains(t, out.HTML, "Open the dashboard", "a button without a link is left out")
	require.NotContains(t, out.HTML, "Unsubscribe")
}

func TestRegistryRefusesDuplicatesAndUnknownKeys(t *testing.T) {
	t.Parallel()
	r := registry(t)
	err := r.Register(email.TemplateDef{Key: welcome.Key, HTML: email.MustParseHTML("x", `{{define "content"}}x{{end}}`)})
	require.ErrorIs(t, err, email.ErrDuplicateTemplate)
	require.Error(t, r.Register(email.TemplateDef{Key: "no-html"}))
	_, err = r.Render("nope", nil)
	require.ErrorIs(t, err, email.ErrTemplateNotFound)
	require.Equal(t, []string{"welcome"}, r.Keys())
}

func TestTextFromHTML(t *testing.T) {
	t.Parallel()
	text := email.TextFromHTML(`<html><head><style>p{color:red}</style><title>t</title></head><body>
		<h1>Hello</h1><p>Read <a href="https://x.example/a?b=1&amp;c=2">the guide</a>   now.</p>
		<ul><li>one</li><li>two</li></ul><p>Bye<br>team</p></body></html>`)
	require.Equal(t, "Hello\nRead the guide (https://x.example/a?b=1&c=2) now.\n- one\n- two\nBye\nteam", text)
}
