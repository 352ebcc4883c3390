package mailer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/batch"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Config holds the pipeline's dependencies and settings.
type Config struct {
	DB        store.DBTX
	Templates *email.Registry // nil = no sendable template
	Lists     *email.Lists    // list polarity; nil = no lists
	Provider  email.Provider
	From      string // default sender
	PublicURL string // base of tracking, unsubscribe and preference links
	Tokens    Tokens
	Cap       *email.FrequencyCap // nil = no capping
	// BounceThreshold is the bounce count that suppresses an address (default 3);
	// SuppressOnHardBounce suppresses on the first permanent bounce instead.
	BounceThreshold      int
	SuppressOnHardBounce bool
	// Events ingests the engine's own email events (opens, clicks) so journeys can react.
	Events EventRecorder
	// Kick wakes the outbox dispatcher after an outbound event was recorded.
	Kick func()
	// WebhookHandlers are the application's handlers of provider events, by event type, run
	// after the engine applied the event; an error fails the webhook (the provider retries).
	WebhookHandlers map[string]func(context.Context, email.ProviderEvent) error
	Logger          *slog.Logger
}

// EventRecorder ingests an engine event for a user, as POST /v1/events would.
type EventRecorder func(ctx context.Context, ev EngineEvent) error

// Mailer is the tracked send pipeline: one code path for transactional, journey, campaign and
// test sends.
type Mailer struct {
	cfg Config
	log *slog.Logger
	// Concurrent sends share statements (and commits): the preference checks, the rows written
	// before the provider call and the marks written after it.
	checks  *batch.Coalescer[store.RecipientQuery, store.RecipientGate]
	inserts *batch.Coalescer[store.NewSend, bool]
	marks   *batch.Coalescer[store.SentMark, struct{}]
}

// New builds a Mailer.
func New(cfg Config) *Mailer {
	if cfg.Templates == nil {
		cfg.Templates = email.NewRegistry()
	}
	if cfg.BounceThreshold <= 0 {
		cfg.BounceThreshold = 3
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	m := &Mailer{cfg: cfg, log: log}
	m.checks = &batch.Coalescer[store.RecipientQuery, store.RecipientGate]{Run: func(ctx context.Context, q []store.RecipientQuery) ([]store.RecipientGate, error) {
		return store.RecipientChecks(ctx, m.cfg.DB, q)
	}}
	m.inserts = &batch.Coalescer[store.NewSend, bool]{Run: func(ctx context.Context, s []store.NewSend) ([]bool, error) {
		return store.InsertSends(ctx, m.cfg.DB, s)
	}}
	// One mark batch at a time, gathering for a millisecond: a broadcast's sends finish
	// dozens a millisecond, and a mark's cost is mostly its statement, not its rows.
	m.marks = &batch.Coalescer[store.SentMark, struct{}]{Workers: 1, MaxWait: time.Millisecond,
		Run: func(ctx context.Context, s []store.SentMark) ([]struct{}, error) {
			return make([]struct{}, len(s)), store.MarkSendsSent(ctx, m.cfg.DB, s)
		}}
	return m
}

// Close stops batching; sends still in flight finish.
func (m *Mailer) Close() {
	m.checks.Close()
	m.inserts.Close()
	m.marks.Close()
}

// Templates is the template registry; Lists the list registry.
func (m *Mailer) Templates() *email.Registry { return m.cfg.Templates }

// Lists returns the list registry (possibly empty).
func (m *Mailer) Lists() *email.Lists { return m.cfg.Lists }

// Provider is the configured email provider.
func (m *Mailer) Provider() email.Provider { return m.cfg.Provider }

// Send outcomes.
const (
	StatusSent         = "sent"
	StatusSuppressed   = "suppressed"
	StatusUnsubscribed = "unsubscribed"
	StatusSkipped      = "skipped"
	StatusQueued       = "queued" // an idempotent replay of a send still in flight
	ReasonCapped       = "frequency_capped"
)

// SendOptions is one send.
type SendOptions struct {
	SendID            string // "" = a new id; set by resends, whose id is known in advance
	Template          string
	Props             email.Props
	To                string
	From              string // "" = the default sender
	Subject           string // "" = the template's default subject
	JourneyStateID    string
	UserID, UserEmail string // the recipient's identity written on the row
	// ResolveUser sets UserID from the address's contact: its external id, else its id, else
	// the address itself (transactional sends to an address).
	ResolveUser         bool
	Category            email.Category
	Tags                []email.Tag
	Headers             map[string]string
	ReplyTo             []string
	SkipPreferenceCheck bool
	IdempotencyKey      string
}

// Result is what the pipeline did.
type Result struct {
	EmailSendID string `json:"emailSendId"`
	ProviderID  string `json:"-"`
	Status      string `json:"status"`
	Reason      string `json:"reason,omitempty"`
}

// Error classes of Send.
var (
	ErrTemplateNotFound = email.ErrTemplateNotFound
	ErrNoProvider       = errors.New("no email provider is configured")
	ErrNoRecipient      = errors.New("the recipient has no email address")
	// ErrInFlight: another attempt of the send holding the key is in flight and did not finish
	// within the caller's deadline; a later retry gets its outcome (or resumes it).
	ErrInFlight = errors.New("a send with this idempotency key is still in flight")
)

// Send runs the pipeline: idempotency, template, preferences and suppression, frequency cap,
// unsubscribe surface, send row, render with tracking, provider call, status.
func (m *Mailer) Send(ctx context.Context, o SendOptions) (Result, error) {
	o.To = strings.ToLower(strings.TrimSpace(o.To))
	if o.To == "" {
		return Result{}, ErrNoRecipient
	}
	var held *store.HeldSend
	if o.IdempotencyKey != "" {
		h, res, done, err := m.replay(ctx, o.IdempotencyKey)
		if done || err != nil {
			return res, err
		}
		held = h
	}
	def, ok := m.cfg.Templates.Get(o.Template)
	if !ok {
		return Result{}, fmt.Errorf("%w: %s", ErrTemplateNotFound, o.Template)
	}
	s := &send{SendOptions: o, def: def, category: cmp.Or(o.Category, def.Category),
		props: maps.Clone(o.Props), headers: maps.Clone(o.Headers)}
	if s.props == nil {
		s.props = email.Props{}
	}
	if s.headers == nil {
		s.headers = map[string]string{}
	}
	s.From = cmp.Or(s.From, m.cfg.From)
	s.UserEmail = cmp.Or(s.UserEmail, s.To)
	s.SendID = cmp.Or(s.SendID, uuid.NewString())
	if held != nil {
		s.SendID, s.UserID, s.heldFor = held.ID, cmp.Or(held.UserID, s.UserID), held.Reason
	}
	switch {
	case held != nil && held.Reason == store.ReasonOutcomeUnknown:
		// Claimed by replay; it passed its checks on its first attempt and goes again as it was.
		if !s.SkipPreferenceCheck {
			m.addUnsubscribe(s)
		}
	case s.SkipPreferenceCheck:
		if s.ResolveUser {
			c, err := store.RecipientByEmail(ctx, m.cfg.DB, s.To)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return Result{}, err
			}
			s.UserID = userKey(s.To, &c)
		}
	default:
		if res, stop, err := m.gate(ctx, s); stop || err != nil {
			return res, err
		}
	}
	if held != nil && held.Reason == store.ReasonPending {
		// Claimed after the checks, which must not count the pending row as a recent send.
		claimed, err := store.ClaimHeldSend(ctx, m.cfg.DB, held.ID, store.ReasonPending)
		if err != nil || !claimed {
			return Result{EmailSendID: held.ID, Status: StatusQueued}, err
		}
	}
	return m.deliver(ctx, s)
}

// send is one send on its way through the pipeline.
type send struct {
	SendOptions
	def      email.TemplateDef
	category email.Category // the effective category: the caller's, else the template's
	props    email.Props
	headers  map[string]string
	heldFor  string // the reason its row was held, now claimed for this attempt ("" = a new send)
}

// existing reports whether the send's row is written already.
func (s *send) existing() bool { return s.heldFor != "" }

func (s *send) row() store.SendRow {
	return store.SendRow{ID: s.SendID, JourneyStateID: s.JourneyStateID, UserID: s.UserID, UserEmail: s.UserEmail,
		TemplateKey: s.Template, From: s.From, To: s.To, Subject: s.Subject, Category: string(s.category), Props: s.Props}
}

// gate applies the recipient's preferences and the frequency cap, and adds the unsubscribe
// surface to a send that may go. stop is true when the send ends here (blocked or capped).
func (m *Mailer) gate(ctx context.Context, s *send) (res Result, stop bool, err error) {
	blocked, reason, contact, err := m.check(ctx, s.To, s.category, s.Category, s.ResolveUser)
	if err != nil {
		return Result{}, true, err
	}
	if s.ResolveUser {
		s.UserID = userKey(s.To, contact)
	}
	switch blocked {
	case StatusSkipped:
		m.log.Info("send skipped: frequency_capped", "userId", s.UserID, "category", s.Category)
		if s.existing() {
			if err := store.MarkSendFailed(ctx, m.cfg.DB, s.SendID, ReasonCapped); err != nil {
				return Result{}, true, err
			}
		}
		res := Result{Status: StatusSkipped, Reason: ReasonCapped}
		if s.existing() {
			res.EmailSendID = s.SendID
		}
		return res, true, nil
	case StatusSuppressed, StatusUnsubscribed:
		// A blocked send is recorded as failed, without the default subject, and never holds
		// the idempotency key.
		row := s.row()
		row.Status, row.StatusReason = "failed", reason
		if s.existing() {
			err = store.MarkSendFailed(ctx, m.cfg.DB, row.ID, reason)
		} else {
			_, err = store.InsertSend(ctx, m.cfg.DB, row, nil)
		}
		if err != nil {
			return Result{}, true, err
		}
		return Result{EmailSendID: row.ID, Status: blocked}, true, nil
	}
	m.addUnsubscribe(s)
	return Result{}, false, nil
}

// addUnsubscribe gives a send its unsubscribe surface: the one-click headers and the
// unsubscribeUrl prop, unless the caller set them.
func (m *Mailer) addUnsubscribe(s *send) {
	unsubscribe := m.UnsubscribeURL(cmp.Or(s.UserID, s.To), s.To, ActionUnsubscribe, s.category)
	if !hasHeader(s.headers, "List-Unsubscribe") {
		s.headers["List-Unsubscribe"] = "<" + unsubscribe + ">"
		s.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
	}
	if s.props["unsubscribeUrl"] == nil {
		s.props["unsubscribeUrl"] = unsubscribe
	}
}

// deliver renders and tracks the send, records it queued, hands it to the provider and records
// the outcome. Every attempt of one send carries the same provider idempotency key and
// Message-ID, derived from its row id.
func (m *Mailer) deliver(ctx context.Context, s *send) (Result, error) {
	s.Subject = cmp.Or(s.Subject, s.def.DefaultSubject)
	rendered, err := m.cfg.Templates.Render(s.Template, s.props)
	if err != nil {
		m.release(ctx, s)
		return Result{}, err
	}
	row := s.row()
	html, links := m.track(row.ID, rendered.HTML)
	if s.existing() {
		err = store.AddTrackedLinks(ctx, m.cfg.DB, row.ID, links)
	} else {
		row.Status, row.IdempotencyKey, row.MessageID = "queued", s.IdempotencyKey, messageID(row.ID, s.From)
		var inserted bool
		// The verdict is waited for (the batch is bounded): a row written for a caller that gave
		// up would hold its key as a send in flight, never sent.
		inserted, err = m.inserts.Do(context.WithoutCancel(ctx), store.NewSend{Row: row, Links: links})
		if err == nil && !inserted { // a concurrent send took the key first
			_, res, _, err := m.replay(ctx, s.IdempotencyKey)
			return res, err
		}
	}
	if err != nil {
		m.release(ctx, s)
		return Result{}, err
	}
	return m.transmit(ctx, s, row, html, rendered.Text)
}

// transmit hands a send whose row is written (queued, holding its key) to the provider and
// records the outcome: sent, refused (failed, key released) or unknown (held with its key).
func (m *Mailer) transmit(ctx context.Context, s *send, row store.SendRow, html, text string) (Result, error) {
	if m.cfg.Provider == nil {
		m.fail(ctx, row.ID)
		return Result{}, ErrNoProvider
	}
	s.headers["X-Hogsend-Email-Send-Id"] = row.ID
	pctx, cancel := context.WithTimeout(ctx, ProviderTimeout)
	defer cancel()
	sent, err := m.cfg.Provider.Send(pctx, email.Message{From: s.From, To: []string{s.To}, ReplyTo: s.ReplyTo,
		Subject: s.Subject, HTML: html, Text: text, Headers: s.headers, Tags: s.Tags,
		IdempotencyKey: "hogsend-" + row.ID, MessageID: messageID(row.ID, s.From)})
	switch {
	case email.Ambiguous(err):
		// The provider may have the message: the row keeps its key, and only a retry of this
		// send (same key) may try again.
		if uerr := store.HoldSend(context.WithoutCancel(ctx), m.cfg.DB, row.ID, store.ReasonOutcomeUnknown); uerr != nil {
			m.log.Error("could not record a send of unknown outcome", "emailSendId", row.ID, "error", uerr)
		}
		return Result{EmailSendID: row.ID}, err
	case err != nil:
		m.fail(ctx, row.ID)
		return Result{EmailSendID: row.ID}, err
	}
	if err := m.markSent(ctx, row, sent.ID); err != nil {
		// The provider has the message: the send stands, only its bookkeeping is late.
		m.log.Error("could not record a sent email", "emailSendId", row.ID, "error", err)
	}
	return Result{EmailSendID: row.ID, ProviderID: sent.ID, Status: StatusSent}, nil
}

// messageID is a send's Message-ID: every attempt of one row carries the same one.
func messageID(rowID, from string) string { return email.MessageIDFor("hogsend-"+rowID, from) }

// fail records a send the provider refused (or never got) and releases its key, so a retry
// really sends. A cancelled request keeps its context error but the row must still be failed.
func (m *Mailer) fail(ctx context.Context, id string) {
	if err := store.MarkSendFailed(context.WithoutCancel(ctx), m.cfg.DB, id, store.ReasonProviderError); err != nil {
		m.log.Error("could not mark a failed send", "emailSendId", id, "error", err)
	}
}

// release gives a claimed held send back when its attempt fails before the provider call, so
// the next retry may claim it again.
func (m *Mailer) release(ctx context.Context, s *send) {
	if s.existing() {
		if err := store.HoldSend(context.WithoutCancel(ctx), m.cfg.DB, s.SendID, s.heldFor); err != nil {
			m.log.Error("could not release a held send", "emailSendId", s.SendID, "error", err)
		}
	}
}

// Bounds of a send in flight. The provider call is cut at ProviderTimeout, so a send queued and
// untouched for InFlight has lost its sender (a crash): the next retry with its key resumes it
// as an outcome unknown, with the same row, provider key and Message-ID.
const (
	ProviderTimeout = 40 * time.Second
	InFlight        = time.Minute
	markPatience    = 15 * time.Second // markSent's retries; within InFlight with the provider call
)

// replay answers a send whose idempotency key is taken (done is true): a delivered or
// progressed send is "sent"; one still in flight is waited for (until ctx ends). A held send is
// returned for this attempt instead (done false): one of unknown outcome, or orphaned in
// flight, claimed; one pending to be claimed after its checks.
func (m *Mailer) replay(ctx context.Context, key string) (held *store.HeldSend, res Result, done bool, err error) {
	inFlight := ""
	for {
		h, err := store.SendByIdempotencyKey(ctx, m.cfg.DB, key, InFlight)
		if errors.Is(err, store.ErrNotFound) {
			return nil, Result{}, false, nil
		}
		if err != nil && inFlight != "" && ctx.Err() != nil {
			// Ended while looking again: the answer is still the in-flight send last seen.
			return nil, Result{EmailSendID: inFlight, Status: StatusQueued}, true, stillInFlight(ctx, inFlight)
		}
		if err != nil {
			return nil, Result{}, false, err
		}
		if h.Status != "queued" && h.Status != "rendered" {
			return nil, Result{EmailSendID: h.ID, Status: StatusSent}, true, nil
		}
		var claimed bool
		switch {
		case h.Reason == store.ReasonPending:
			return &h, Result{}, false, nil
		case h.Reason == store.ReasonOutcomeUnknown:
			claimed, err = store.ClaimHeldSend(ctx, m.cfg.DB, h.ID, store.ReasonOutcomeUnknown)
		case h.Stale:
			claimed, err = store.ClaimStaleSend(ctx, m.cfg.DB, h.ID, InFlight)
			h.Reason = store.ReasonOutcomeUnknown
		}
		if err != nil {
			return nil, Result{}, false, err
		}
		if claimed {
			return &h, Result{}, false, nil
		}
		inFlight = h.ID
		select { // in flight elsewhere: its outcome is the answer
		case <-ctx.Done():
			return nil, Result{EmailSendID: h.ID, Status: StatusQueued}, true, stillInFlight(ctx, h.ID)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func stillInFlight(ctx context.Context, id string) error {
	return fmt.Errorf("%w (send %s): %w", ErrInFlight, id, ctx.Err())
}

// check applies suppression, unsubscribes, category polarity and the frequency cap. It returns
// the blocking status ("" = send) and the reason recorded on the failed row.
func (m *Mailer) check(ctx context.Context, to string, category, callerCategory email.Category, resolve bool) (string, string, *store.Recipient, error) {
	window, rule := m.capWindow(callerCategory)
	capped := window != nil
	g, err := m.checks.Do(ctx, store.RecipientQuery{Email: to, Cap: window, Resolve: resolve})
	if err != nil {
		return "", "", nil, err
	}
	status, reason := m.verdict(g, category, capped, rule)
	return status, reason, g.Contact, nil
}

// capWindow is the frequency cap that applies to a caller category (nil = none).
func (m *Mailer) capWindow(callerCategory email.Category) (*store.CapWindow, email.CapRule) {
	rule, byCategory, capped := m.cfg.Cap.Rule(callerCategory)
	if !capped {
		return nil, rule
	}
	w := &store.CapWindow{Window: rule.Window}
	if byCategory {
		w.Category = string(callerCategory)
	}
	return w, rule
}

// verdict reads a recipient's gate: the blocking status ("" = send) and the reason recorded on
// the failed row.
func (m *Mailer) verdict(g store.RecipientGate, category email.Category, capped bool, rule email.CapRule) (string, string) {
	switch {
	case g.Suppressed:
		return StatusSuppressed, "suppressed"
	case g.UnsubscribedAll:
		return StatusUnsubscribed, "unsubscribed"
	case category != "" && !m.cfg.Lists.IsSubscribed(g.Categories, string(category)):
		return StatusUnsubscribed, "category_unsubscribed"
	case capped && g.RecentSends >= rule.Count:
		return StatusSkipped, ""
	}
	return "", ""
}

// userKey is the identity a send to an address records: its contact's external id, else the
// contact's id, else the address.
func userKey(addr string, c *store.Recipient) string {
	if c == nil || c.ID == "" {
		return addr
	}
	return c.ExternalIDOrID()
}

// track rewrites a rendered document's links to the click redirect and adds the open pixel.
func (m *Mailer) track(sendID, html string) (string, []store.TrackedLink) {
	links, redirect := m.trackedLinks(sendID, TrackableLinks(html))
	return m.applyTracking(sendID, html, redirect), links
}

// trackedLinks are a send's tracked_links rows for the link targets urls, and the redirect of
// each target. The id is derived from the send and the URL, so a retried send links to the
// same rows.
func (m *Mailer) trackedLinks(sendID string, urls []string) ([]store.TrackedLink, map[string]string) {
	links := make([]store.TrackedLink, len(urls))
	redirect := make(map[string]string, len(urls))
	for i, u := range urls {
		links[i] = store.TrackedLink{ID: uuid.NewSHA1(uuid.NameSpaceURL, []byte(sendID+" "+u)).String(), URL: u}
		redirect[u] = m.cfg.PublicURL + "/v1/t/c/" + links[i].ID
	}
	return links, redirect
}

// applyTracking rewrites a document's links to their redirects and adds the open pixel.
func (m *Mailer) applyTracking(sendID, html string, redirect map[string]string) string {
	if len(redirect) > 0 {
		html = RewriteLinks(html, redirect)
	}
	return InsertPixel(html, m.cfg.PublicURL+"/v1/t/o/"+sendID)
}

// SentEvent is the payload of the outbound email.sent event.
type SentEvent struct {
	EmailSendID    string  `json:"emailSendId"`
	ResendID       string  `json:"resendId"`
	TemplateKey    string  `json:"templateKey"`
	To             string  `json:"to"`
	UserID         *string `json:"userId"`
	Category       *string `json:"category"`
	JourneyStateID *string `json:"journeyStateId"`
	Subject        string  `json:"subject"`
	SentAt         string  `json:"sentAt"`
}

func (m *Mailer) markSent(ctx context.Context, row store.SendRow, providerID string) error {
	now := time.Now()
	ev := outbound.Emit(outbound.EmailSent, SentEvent{EmailSendID: row.ID, ResendID: providerID, TemplateKey: row.TemplateKey,
		To: row.To, UserID: nonEmpty(row.UserID), Category: nonEmpty(row.Category), JourneyStateID: nonEmpty(row.JourneyStateID),
		Subject: row.Subject, SentAt: journey.Timestamp(now)}, outbound.EmailSent+":"+row.ID, now)
	rows, err := outbox.Rows([]outbox.Intent{ev})
	if err != nil {
		return err
	}
	mark := store.SentMark{ID: row.ID, ProviderID: providerID, SentAt: now, EventType: outbound.EmailSent, Event: rows[0]}
	// The provider has the message: a row left queued would be taken for an orphan and sent
	// again, so the mark outlasts a short database outage (a restart) and the caller's deadline.
	ctx = context.WithoutCancel(ctx)
	wait := 100 * time.Millisecond
	for deadline := now.Add(markPatience); ; wait = min(2*wait, 2*time.Second) {
		_, err := m.marks.Do(ctx, mark)
		if err == nil {
			m.kick()
			return nil
		}
		if time.Now().Add(wait).After(deadline) {
			return err
		}
		time.Sleep(wait)
	}
}

func (m *Mailer) kick() {
	if m.cfg.Kick != nil {
		m.cfg.Kick()
	}
}

// UnsubscribeURL is a link to the unsubscribe endpoint carrying a fresh token.
func (m *Mailer) UnsubscribeURL(externalID, to, action string, category email.Category) string {
	return m.cfg.PublicURL + "/v1/email/unsubscribe?token=" + url.QueryEscape(m.cfg.Tokens.New(externalID, to, action, string(category)))
}

// PreferencesURL is a link to the preference center.
func (m *Mailer) PreferencesURL(externalID, to string) string {
	return m.cfg.PublicURL + "/v1/email/preferences?token=" + url.QueryEscape(m.cfg.Tokens.New(externalID, to, ActionManage, ""))
}

func hasHeader(h map[string]string, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// VerifyToken checks an unsubscribe or preference token.
func (m *Mailer) VerifyToken(token string) (TokenPayload, error) { return m.cfg.Tokens.Verify(token) }

// PublicURL is the base of the engine's links in mail.
func (m *Mailer) PublicURL() string { return m.cfg.PublicURL }
