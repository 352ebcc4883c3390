package templates

import (
	"fmt"

	"github.com/hogsend/hogsend/email"
)

// ProductUpdates is the example app's opt-in newsletter list.
var ProductUpdates = email.MustDefineList(email.ListDef{ID: "product-updates", Name: "Product updates",
	Description: "Release notes and new features, about once a month.", DefaultOptIn: false})

// Lists are the example app's lists.
func Lists() []email.List { return []email.List{ProductUpdates} }

// str reads a string prop, or fallback when it is missing or empty.
func str(p email.Props, key, fallback string) string {
	if s, ok := p[key].(string); ok && s != "" {
		return s
	}
	return fallback
}

// hello is the preheader most templates use: a short line addressed to the recipient.
func hello(line string) func(email.Props) string {
	return func(p email.Props) string { return fmt.Sprintf("%s, %s", str(p, "name", "Hi there"), line) }
}

// Registry returns the example app's 20 templates in catalog order.
func Registry() *email.Registry {
	r := email.NewRegistry()
	for _, d := range catalog {
		d.def.HTML = email.MustParseHTML(d.def.Key, d.content)
		r.MustRegister(d.def)
	}
	return r
}

type entry struct {
	def     email.TemplateDef
	content string
}

var catalog = []entry{
	{email.TemplateDef{Key: "welcome", DefaultSubject: "Welcome to Hogsend", Category: email.CategoryTransactional,
		Preview: hello("your workspace is ready."), Examples: email.Props{"name": "Ada"}}, `{{define "content"}}
{{template "heading" "Lifecycle email, as code."}}
{{template "paragraph" (print "Hi " (default "there" .name) ", thanks for signing up.")}}
{{template "paragraph" "Send your first event, define a journey in Go, and Hogsend takes it from there: timers, waits and retries included."}}
{{template "button" (dict "href" (default "https://app.hogsend.com/dashboard" .dashboardUrl) "label" "Open your dashboard")}}
<p style="margin:0 0 16px;">New here? The <a href="{{default "https://hogsend.com/docs" .docsUrl}}">getting-started guide</a> walks through it in ten minutes.</p>
{{end}}`},

	{email.TemplateDef{Key: "password-reset", DefaultSubject: "Reset your password", Category: email.CategoryTransactional,
		Preview: hello("here is the link you asked for.")}, `{{define "content"}}
{{template "heading" "Choose a new password"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", someone (hopefully you) asked to reset the password of this account.")}}
{{template "button" (dict "href" .resetUrl "label" "Set a new password")}}
{{template "paragraph" (print "The link works for " (default 60 .expiresInMinutes) " minutes. If you did not ask for it, ignore this email: nothing changes.")}}
{{end}}`},

	{email.TemplateDef{Key: "journey-notification", DefaultSubject: "Journey notification", Category: email.CategoryJourney,
		Preview: func(p email.Props) string { return str(p, "journeyName", "") + ": " + str(p, "eventName", "") }}, `{{define "content"}}
{{template "heading" (default "An update" .journeyName)}}
{{template "paragraph" (print "Hi " (default "there" .name) ",")}}
{{template "paragraph" .body}}
{{end}}`},

	{email.TemplateDef{Key: "activation-quickstart", DefaultSubject: "Your Hogsend setup guide", Category: email.CategoryJourney,
		Preview: hello("three steps to your first journey."), Examples: email.Props{"name": "Ada"}}, `{{define "content"}}
{{template "heading" "Three steps to a running journey"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", here is the short path from install to a first automated email:")}}
{{template "list" (list "Point your app's events at POST /v1/events." "Write a journey: a Go function that sends, sleeps and waits." "Watch it run in the Temporal Web UI.")}}
{{template "button" (dict "href" (default "https://hogsend.com/docs/quickstart" .quickstartUrl) "label" "Start the quickstart")}}
<p style="margin:0 0 16px;">Reference material lives in <a href="{{default "https://hogsend.com/docs" .docsUrl}}">the docs</a>.</p>
{{end}}`},

	{email.TemplateDef{Key: "activation-feature-highlight", DefaultSubject: "Journeys are just TypeScript", Category: email.CategoryJourney,
		Preview: hello("one feature worth a look.")}, `{{define "content"}}
{{template "heading" (default "Journeys are plain code" .featureName)}}
{{template "paragraph" (default "Branches are if statements, delays are function calls, and tests run in your usual test runner." .featureDescription)}}
{{with .beforeText}}{{template "paragraph" (print "Before: " .)}}{{end}}
{{with .afterText}}{{template "paragraph" (print "After: " .)}}{{end}}
{{template "button" (dict "href" (default "https://hogsend.com/docs/journeys" .ctaUrl) "label" (default "See an example" .ctaText))}}
{{end}}`},

	{email.TemplateDef{Key: "activation-community", DefaultSubject: "See what other teams are shipping", Category: email.CategoryJourney,
		Preview: hello("meet the people building with Hogsend.")}, `{{define "content"}}
{{template "heading" (print "Say hello in " (default "the community" .communityName))}}
{{template "paragraph" (print "Hi " (default "there" .name) ", " (default "hundreds of" .memberCount) " builders swap journeys, templates and war stories there.")}}
{{with .highlights}}{{template "list" .}}{{end}}
{{template "button" (dict "href" (default "https://hogsend.com/community" .communityUrl) "label" "Join the conversation")}}
{{end}}`},

	{email.TemplateDef{Key: "activation-nudge", DefaultSubject: "We haven't seen any events yet", Category: email.CategoryJourney,
		Preview: hello("your project is still waiting for its first event.")}, `{{define "content"}}
{{template "heading" "Still waiting for your first event"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", your project has been quiet since sign-up. One HTTP call is all it takes to wake it up.")}}
{{template "button" (dict "href" (default "https://app.hogsend.com/setup" .setupUrl) "label" "Finish setup")}}
<p style="margin:0 0 16px;">Stuck? <a href="{{default "https://hogsend.com/docs" .docsUrl}}">Read the docs</a> or <a href="{{default "https://hogsend.com/help" .helpUrl}}">ask us</a>.</p>
{{end}}`},

	{email.TemplateDef{Key: "conversion-usage-milestone", DefaultSubject: "You've hit a Hogsend milestone", Category: email.CategoryJourney,
		Preview: hello("your usage just crossed a milestone.")}, `{{define "content"}}
{{template "heading" "A milestone worth noting"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", you have reached " (default "a new level of" .usageCount) " " (default "events" .usageLabel) ".")}}
{{with .proFeatures}}{{template "paragraph" "The Pro plan adds:"}}{{template "list" .}}{{end}}
{{template "button" (dict "href" (default "https://app.hogsend.com/billing" .upgradeUrl) "label" "Compare plans")}}
{{end}}`},

	{email.TemplateDef{Key: "conversion-trial-expiring", DefaultSubject: "Your Hogsend Cloud trial is ending soon", Category: email.CategoryJourney,
		Preview: hello("your trial ends soon.")}, `{{define "content"}}
{{template "heading" "Your trial is nearly over"}}
<p style="margin:0 0 16px;">Hi {{default "there" .name}}, your trial ends in {{default "a few" .daysLeft}} days{{with .trialEndDate}} ({{.}}){{end}}.</p>
{{with .valueSummary}}{{template "paragraph" "So far you have:"}}{{template "list" .}}{{end}}
{{template "button" (dict "href" (default "https://app.hogsend.com/billing" .upgradeUrl) "label" "Keep my workspace")}}
{{end}}`},

	{email.TemplateDef{Key: "conversion-winback-offer", DefaultSubject: "A little something to come back", Category: email.CategoryJourney,
		Preview: hello("an offer, for a limited time."), Examples: email.Props{"name": "Ada", "discountPercent": 25, "expiresIn": "48 hours"}}, `{{define "content"}}
{{template "heading" (print (default 20 .discountPercent) "% off, if you come back")}}
{{template "paragraph" (print "Hi " (default "there" .name) ", we would like another chance. The offer stands for " (default "a week" .expiresIn) ".")}}
{{template "button" (dict "href" (default "https://app.hogsend.com/billing" .offerUrl) "label" "Claim the offer")}}
{{end}}`},

	{email.TemplateDef{Key: "retention-achievement", DefaultSubject: "You hit a milestone 🎉", Category: email.CategoryJourney,
		Preview: hello("something worth celebrating.")}, `{{define "content"}}
{{template "heading" (default "Achievement unlocked" .achievementName)}}
{{template "paragraph" (default "Your team reached a new high this month." .achievementDescription)}}
{{with .stat}}{{template "paragraph" (print "Now: " .)}}{{end}}
{{with .previousStat}}{{template "paragraph" (print "Before: " .)}}{{end}}
{{template "button" (dict "href" (default "https://app.hogsend.com" .ctaUrl) "label" (default "See the details" .ctaText))}}
{{with .shareUrl}}<p style="margin:0 0 16px;"><a href="{{.}}">Share it</a></p>{{end}}
{{end}}`},

	{email.TemplateDef{Key: "retention-weekly-digest", DefaultSubject: "Your Hogsend week", Category: email.CategoryJourney,
		Preview: hello("your week in numbers.")}, `{{define "content"}}
{{template "heading" (print "Your week " (default "" .periodLabel))}}
{{with .stats}}<table role="presentation" cellpadding="0" cellspacing="0" style="margin:0 0 16px;width:100%;">{{range .}}
<tr><td style="padding:4px 0;">{{.label}}</td><td style="padding:4px 0;text-align:right;font-weight:600;">{{.value}}{{with .change}} ({{.}}){{end}}</td></tr>{{end}}
</table>{{end}}
{{with .tip}}{{template "paragraph" (print "Tip: " .)}}{{end}}
{{with .communityHighlight}}{{template "paragraph" (print "From the community: " .)}}{{end}}
{{template "button" (dict "href" (default "https://app.hogsend.com/dashboard" .dashboardUrl) "label" "Open the dashboard")}}
{{end}}`},

	{email.TemplateDef{Key: "reactivation-checkin", DefaultSubject: "Your project's gone quiet", Category: email.CategoryJourney,
		Preview: hello("checking in on your project.")}, `{{define "content"}}
{{template "heading" "Everything all right?"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", nothing has come through in " (default "a while" .daysSinceActive) " days. Here is what changed meanwhile:")}}
{{with .highlights}}{{template "list" .}}{{end}}
{{template "button" (dict "href" (default "https://app.hogsend.com" .returnUrl) "label" "Take a look")}}
{{end}}`},

	{email.TemplateDef{Key: "reactivation-final-nudge", DefaultSubject: "One last note from Hogsend", Category: email.CategoryJourney,
		Preview: hello("this is the last of these emails.")}, `{{define "content"}}
{{template "heading" "We will stop writing"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", this is the last reminder we send. Your workspace stays exactly as you left it.")}}
{{template "button" (dict "href" (default "https://app.hogsend.com" .returnUrl) "label" "Return to Hogsend")}}
{{end}}`},

	{email.TemplateDef{Key: "feedback-nps-survey", DefaultSubject: "Quick question — how are we doing?", Category: email.CategoryJourney,
		Preview: hello("one question, ten seconds.")}, `{{define "content"}}
{{template "heading" "How likely are you to recommend us?"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", a score from 0 to 10 tells us more than you would think.")}}
{{template "button" (dict "href" (default "https://hogsend.com/survey" .surveyUrl) "label" "Answer one question")}}
{{end}}`},

	{email.TemplateDef{Key: "churn-payment-failed", DefaultSubject: "Your payment didn't go through", Category: email.CategoryTransactional,
		Preview: hello("your last payment was declined.")}, `{{define "content"}}
{{template "heading" "Payment declined"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", the card on file was declined. Your account stays active for " (default 7 .gracePeriodDays) " more days.")}}
{{template "button" (dict "href" (default "https://app.hogsend.com/billing" .updatePaymentUrl) "label" "Update payment method")}}
{{with .retryUrl}}<p style="margin:0 0 16px;">Fixed it already? <a href="{{.}}">Retry the payment</a>.</p>{{end}}
{{end}}`},

	{email.TemplateDef{Key: "transactional/verify-email", DefaultSubject: "Verify your email address", Category: email.CategoryTransactional,
		Preview:  hello("confirm this address to finish signing up."),
		Examples: email.Props{"name": "Ada", "verifyUrl": "https://app.hogsend.com/verify?token=demo", "expiresIn": "24 hours"}}, `{{define "content"}}
{{template "heading" "Confirm your address"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", one click confirms that this address is yours.")}}
{{template "button" (dict "href" .verifyUrl "label" "Verify email")}}
{{template "paragraph" (print "The link expires in " (default "24 hours" .expiresIn) ".")}}
{{end}}`},

	{email.TemplateDef{Key: "transactional/magic-link", DefaultSubject: "Your sign-in link", Category: email.CategoryTransactional,
		Preview:  hello("here is your sign-in link."),
		Examples: email.Props{"name": "Ada", "magicLinkUrl": "https://app.hogsend.com/auth/magic?token=demo", "expiresIn": "15 minutes"}}, `{{define "content"}}
{{template "heading" "Sign in to Hogsend"}}
{{template "paragraph" (print "Hi " (default "there" .name) ", use the button below to sign in. No password needed.")}}
{{template "button" (dict "href" .magicLinkUrl "label" "Sign in")}}
{{template "paragraph" (print "It works once and expires in " (default "15 minutes" .expiresIn) ". Did not ask for it? Ignore this email.")}}
{{end}}`},

	{email.TemplateDef{Key: "transactional/receipt", DefaultSubject: "Your receipt", Category: email.CategoryTransactional,
		Preview: func(p email.Props) string {
			return "Receipt for order " + fmt.Sprint(p["orderId"]) + " — " + fmt.Sprint(p["total"])
		},
		Examples: email.Props{"name": "Ada", "orderId": "HS-10428", "total": "$69.00", "purchasedAt": "June 7, 2026",
			"items": []any{map[string]any{"description": "Hogsend Cloud — Team plan", "amount": "$49.00"},
				map[string]any{"description": "Extra sending volume", "amount": "$20.00"}}}}, `{{define "content"}}
{{template "heading" "Thanks for your purchase"}}
<p style="margin:0 0 16px;">Order {{.orderId}}{{with .purchasedAt}}, {{.}}{{end}}</p>
<table role="presentation" cellpadding="0" cellspacing="0" style="margin:0 0 16px;width:100%;">{{range .items}}
<tr><td style="padding:4px 0;">{{.description}}</td><td style="padding:4px 0;text-align:right;">{{.amount}}</td></tr>{{end}}
<tr><td style="padding:8px 0;font-weight:700;border-top:1px solid #e4e4e7;">Total</td><td style="padding:8px 0;text-align:right;font-weight:700;border-top:1px solid #e4e4e7;">{{.total}}</td></tr>
</table>
{{with .receiptUrl}}{{template "button" (dict "href" . "label" "Download the receipt")}}{{end}}
{{end}}`},

	{email.TemplateDef{Key: "marketing/product-update", DefaultSubject: "What's new in Hogsend", Category: email.Category(ProductUpdates.ID),
		Preview:  func(p email.Props) string { return str(p, "headline", "The latest from the Hogsend team") },
		Examples: email.Props{"name": "Ada", "headline": "Buckets now update in real time"}}, `{{define "content"}}
{{template "heading" (default "What's new" .headline)}}
{{template "paragraph" (print "Hi " (default "there" .name) ",")}}
{{template "paragraph" (default "Here is what shipped since our last note." .body)}}
{{template "button" (dict "href" (default "https://hogsend.com/changelog" .ctaUrl) "label" (default "Read the changelog" .ctaText))}}
{{end}}`},
}
