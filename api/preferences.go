package api

import (
	"errors"
	"html/template"
	"net/http"
	"regexp"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/store"
)

// The public unsubscribe endpoint (GET, and POST for RFC 8058 one-click) and the preference
// center. Both are reached from links in mail, authenticated by the signed token alone.

type preferenceHandlers struct {
	m  *mailer.Mailer
	db store.DBTX
	// confirm: a GET only shows a button that POSTs (link scanners follow GETs).
	confirm bool
}

var pageTemplates = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{margin:0;background:#f6f7f9;font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1d2330}
main{max-width:480px;margin:64px auto;padding:32px;background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:22px;margin:0 0 12px}p{line-height:1.5}a{color:#2456d8}
.pref-row{display:flex;justify-content:space-between;align-items:center;gap:12px;padding:12px 0;border-top:1px solid #eceef2}
.pref-label{font-weight:600}.pref-status{font-size:13px}.subscribed{color:#1f7a3a}.unsubscribed{color:#a33}
.global-row{margin-top:8px;border-top:2px solid #d9dce3}
</style>
</head>
<body><main>
<h1>{{.Heading}}</h1>
{{range .Lines}}<p>{{.}}</p>
{{end}}{{range .Rows}}<div class="pref-row{{if .Global}} global-row{{end}}">
<div><div class="pref-label">{{.Label}}</div><div class="pref-status {{if .Subscribed}}subscribed{{else}}unsubscribed{{end}}">{{.Status}}</div></div>
<a href="{{.URL}}">{{.Action}}</a>
</div>
{{end}}{{with .Link}}<p><a href="{{.URL}}">{{.Text}}</a></p>{{end}}{{with .Confirm}}<form method="post" action="{{.URL}}"><button type="submit">{{.Text}}</button></form>{{end}}
</main></body>
</html>
`))

type htmlPage struct {
	Title, Heading string
	Lines          []template.HTML
	Rows           []prefRow
	Link           *pageLink
	Confirm        *pageLink // a form posting to URL
}

type pageLink struct{ URL, Text string }

type prefRow struct {
	Label, Status, URL, Action string
	Subscribed, Global         bool
}

func renderPage(c *gin.Context, status int, p htmlPage) error {
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	return pageTemplates.Execute(c.Writer, p)
}

func invalidLinkPage(c *gin.Context, reason string) error {
	return renderPage(c, http.StatusBadRequest, htmlPage{Title: "Invalid Link", Heading: "This link is no longer valid",
		Lines: []template.HTML{template.HTML(template.HTMLEscapeString(reason)) + ". Please check your email for a newer link."}})
}

// categoryPattern is what a token's category may look like.
var categoryPattern = regexp.MustCompile(`(?i)^[a-z0-9_-]+$`)

// token verifies the token of a link, from the query or (one-click POST) the form, and that
// its action is one this endpoint performs.
func (h *preferenceHandlers) token(c *gin.Context, actions ...string) (mailer.TokenPayload, error) {
	raw := c.Query("token")
	if raw == "" && c.Request.Method == http.MethodPost {
		raw = c.PostForm("token")
	}
	if raw == "" {
		return mailer.TokenPayload{}, mailer.ErrTokenMalformed
	}
	t, err := h.m.VerifyToken(raw)
	if err == nil && !slices.Contains(actions, t.Action) {
		return mailer.TokenPayload{}, mailer.ErrTokenAction
	}
	return t, err
}

// unsubscribe is GET and POST /v1/email/unsubscribe: apply the token's action and say so. It
// needs no cookie, key or confirmation, so a mailbox provider's one-click POST works.
func (h *preferenceHandlers) unsubscribe(c *gin.Context) error {
	t, err := h.token(c, mailer.ActionUnsubscribe, mailer.ActionResubscribe)
	var bad *mailer.TokenError
	if errors.As(err, &bad) {
		return invalidLinkPage(c, bad.Reason)
	}
	if err != nil {
		return err
	}
	if t.Category != "" && !categoryPattern.MatchString(t.Category) {
		return renderPage(c, http.StatusBadRequest, htmlPage{Title: "Invalid Link", Heading: "Invalid category",
			Lines: []template.HTML{"The category in this link is malformed."}})
	}
	if h.confirm && c.Request.Method == http.MethodGet {
		heading, button := "Unsubscribe?", "Unsubscribe"
		if t.Action == mailer.ActionResubscribe {
			heading, button = "Resubscribe?", "Resubscribe"
		}
		return renderPage(c, http.StatusOK, htmlPage{Title: heading, Heading: heading,
			Lines:   []template.HTML{"Confirm with the button below; nothing changes until you do."},
			Confirm: &pageLink{URL: c.Request.URL.RequestURI(), Text: button}})
	}
	ch := store.PreferenceChange{Category: t.Category}
	resubscribe := t.Action == mailer.ActionResubscribe
	if resubscribe {
		ch.UnsubscribedAll, ch.Subscribed = new(false), true
	} else if t.Category == "" {
		ch.UnsubscribedAll = new(true)
	}
	if err := h.m.SetPreference(c.Request.Context(), t.ExternalID, t.Email, ch); err != nil {
		return err
	}
	what := template.HTML("<strong>" + template.HTMLEscapeString(t.Category) + "</strong>")
	if resubscribe {
		line := template.HTML("You'll get our emails again.")
		if t.Category != "" {
			line = "You'll get " + what + " emails again."
		}
		return renderPage(c, http.StatusOK, htmlPage{Title: "Resubscribed", Heading: "You're back!", Lines: []template.HTML{line}})
	}
	line := template.HTML("You won't get any more emails from us.")
	if t.Category != "" {
		line = "You won't get " + what + " emails any more."
	}
	return renderPage(c, http.StatusOK, htmlPage{Title: "Unsubscribed", Heading: "You've been unsubscribed",
		Lines: []template.HTML{line}, Link: &pageLink{URL: h.m.PreferencesURL(t.ExternalID, t.Email), Text: "Manage your email preferences"}})
}

// journeyLabel names the built-in journey category in the preference center.
const journeyLabel = "Journey & lifecycle emails"

// preferences is GET /v1/email/preferences: every category the recipient can leave or join,
// and the global switch, each with a link that flips it.
func (h *preferenceHandlers) preferences(c *gin.Context) error {
	t, err := h.token(c, mailer.ActionManage)
	var bad *mailer.TokenError
	if errors.As(err, &bad) {
		return invalidLinkPage(c, bad.Reason)
	}
	if err != nil {
		return err
	}
	prefs, err := store.PreferencesFor(c.Request.Context(), h.db, t.ExternalID, t.Email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	categories := []email.List{{ID: string(email.CategoryJourney), Name: journeyLabel}}
	seen := map[string]bool{categories[0].ID: true}
	for _, l := range h.m.Lists().Enabled() {
		if !seen[l.ID] {
			seen[l.ID] = true
			categories = append(categories, l)
		}
	}
	var rows []prefRow
	for _, cat := range categories {
		on := h.m.Lists().IsSubscribed(prefs.Categories, cat.ID) && !prefs.UnsubscribedAll
		r := prefRow{Label: cat.Name, Subscribed: on, Status: "Unsubscribed", Action: "Resubscribe",
			URL: h.m.UnsubscribeURL(t.ExternalID, t.Email, mailer.ActionResubscribe, email.Category(cat.ID))}
		if on {
			r.Status, r.Action = "Subscribed", "Unsubscribe"
			r.URL = h.m.UnsubscribeURL(t.ExternalID, t.Email, mailer.ActionUnsubscribe, email.Category(cat.ID))
		}
		rows = append(rows, r)
	}
	global := prefRow{Label: "All emails", Global: true, Subscribed: true, Status: "Receiving emails", Action: "Unsubscribe from all",
		URL: h.m.UnsubscribeURL(t.ExternalID, t.Email, mailer.ActionUnsubscribe, "")}
	if prefs.UnsubscribedAll {
		global = prefRow{Label: "All emails", Global: true, Status: "Unsubscribed from all", Action: "Resubscribe to all",
			URL: h.m.UnsubscribeURL(t.ExternalID, t.Email, mailer.ActionResubscribe, "")}
	}
	return renderPage(c, http.StatusOK, htmlPage{Title: "Email preferences", Heading: "Email preferences",
		Lines: []template.HTML{"Choose which emails " + template.HTML("<strong>"+template.HTMLEscapeString(t.Email)+"</strong>") + " receives."},
		Rows:  append(rows, global)})
}
