package mailer

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/store"
)

// Broadcast is one template with one set of props for many recipients: a campaign page. It
// costs a page what one send costs, not what len(Recipients) sends cost: one key lookup, one
// preference query, one render, one insert; the provider calls run Concurrency at a time.
type Broadcast struct {
	Template      string
	Props         email.Props
	From, Subject string         // "" = the default sender, the template's subject
	Category      email.Category // the caller's category (a list campaign: the list id)
	Recipients    []BroadcastRecipient
	// Concurrency bounds the provider calls in flight (default 16). Pace, when set, is waited
	// on before each call (a rate limit); its error fails that recipient.
	Concurrency int
	Pace        func(context.Context) error
}

// BroadcastRecipient is one recipient of a broadcast; the key makes its send at most once.
type BroadcastRecipient struct {
	To, UserID, IdempotencyKey string
}

// BroadcastResult is one recipient's outcome; Err is set when its send failed.
type BroadcastResult struct {
	Result
	Err error
}

// unsubscribePlaceholder stands for each recipient's unsubscribe token in the page's one render.
const unsubscribePlaceholder = "HOGSENDUNSUBSCRIBETOKEN"

// SendBroadcast sends b to every recipient and returns their outcomes in order. A recipient
// whose key is taken (a page sent again after a crash) goes through Send, whose replay rules
// apply. The error is the page's (its database statements); a page that fails is sent again
// as a whole, which the keys make safe.
func (m *Mailer) SendBroadcast(ctx context.Context, b Broadcast) ([]BroadcastResult, error) {
	p, err := m.PrepareBroadcast(ctx, b)
	if err != nil {
		return nil, err
	}
	return p.Send(ctx)
}

// PreparedBroadcast is a broadcast read and rendered, with nothing written yet: a caller may
// prepare its next page while this one sends, and drop a prepared page it no longer wants.
type PreparedBroadcast struct {
	m     *Mailer
	b     Broadcast
	page  renderedPage
	out   []BroadcastResult
	rows  []store.NewSend
	sends []*pageSend
	again []int
}

// PrepareBroadcast does a broadcast's reads: keys taken, the recipients' gates, the render.
func (m *Mailer) PrepareBroadcast(ctx context.Context, b Broadcast) (*PreparedBroadcast, error) {
	out := make([]BroadcastResult, len(b.Recipients))
	def, ok := m.cfg.Templates.Get(b.Template)
	if !ok {
		for i := range out {
			out[i].Err = fmt.Errorf("%w: %s", ErrTemplateNotFound, b.Template)
		}
		return &PreparedBroadcast{m: m, b: b, out: out}, nil
	}
	keys := make([]string, len(b.Recipients))
	for i, r := range b.Recipients {
		keys[i] = r.IdempotencyKey
	}
	taken, err := store.TakenKeys(ctx, m.cfg.DB, keys)
	if err != nil {
		return nil, err
	}
	window, rule := m.capWindow(b.Category)
	var queries []store.RecipientQuery
	var fresh []int // recipients never attempted
	var again []int // recipients whose key is taken: Send's replay decides
	for i, r := range b.Recipients {
		b.Recipients[i].To = strings.ToLower(strings.TrimSpace(r.To))
		if taken[r.IdempotencyKey] {
			again = append(again, i)
			continue
		}
		fresh = append(fresh, i)
		queries = append(queries, store.RecipientQuery{Email: b.Recipients[i].To, Cap: window})
	}
	var gates []store.RecipientGate
	if len(queries) > 0 {
		if gates, err = store.RecipientChecks(ctx, m.cfg.DB, queries); err != nil {
			return nil, err
		}
	}
	category := cmp.Or(b.Category, def.Category)
	page, err := m.pageRender(b)
	var rows []store.NewSend
	var sends []*pageSend
	for n, i := range fresh {
		r := b.Recipients[i]
		s := &send{SendOptions: SendOptions{Template: b.Template, Props: b.Props, To: r.To, From: cmp.Or(b.From, m.cfg.From),
			Subject: cmp.Or(b.Subject, def.DefaultSubject), UserID: r.UserID, UserEmail: r.To, Category: b.Category,
			IdempotencyKey: r.IdempotencyKey, SendID: uuid.NewString()}, def: def, category: category,
			props: maps.Clone(b.Props), headers: map[string]string{}}
		if s.props == nil {
			s.props = email.Props{}
		}
		row := s.row()
		switch status, reason := m.verdict(gates[n], category, window != nil, rule); status {
		case StatusSkipped:
			out[i].Result = Result{Status: StatusSkipped, Reason: ReasonCapped}
			continue
		case StatusSuppressed, StatusUnsubscribed: // recorded failed, holding no key
			row.Subject, row.Status, row.StatusReason = b.Subject, "failed", reason
			rows = append(rows, store.NewSend{Row: row})
			out[i].Result = Result{EmailSendID: row.ID, Status: status}
			continue
		}
		if err != nil { // the template does not render: nothing is written, the recipient fails
			out[i].Err = err
			continue
		}
		m.addUnsubscribe(s)
		ps := &pageSend{i: i, s: s, row: &row}
		urls := page.links
		if page.perRecipient { // rendered now and kept: this template needs its own render each
			rendered, err := m.cfg.Templates.Render(s.Template, s.props)
			if err != nil {
				out[i].Err = err
				continue
			}
			ps.html, ps.text = rendered.HTML, rendered.Text
			urls = TrackableLinks(rendered.HTML)
		}
		row.Status, row.IdempotencyKey, row.MessageID = "queued", s.IdempotencyKey, messageID(row.ID, s.From)
		var links []store.TrackedLink
		links, ps.redirect = m.trackedLinks(row.ID, urls)
		rows = append(rows, store.NewSend{Row: row, Links: links})
		ps.insert = len(rows) - 1
		sends = append(sends, ps)
	}
	return &PreparedBroadcast{m: m, b: b, page: page, out: out, rows: rows, sends: sends, again: again}, nil
}

// Send writes the page's rows (each queued send holding its key) and makes its provider calls.
func (p *PreparedBroadcast) Send(ctx context.Context) ([]BroadcastResult, error) {
	sends, again := p.sends, p.again
	if len(p.rows) > 0 {
		inserted, err := store.InsertSends(ctx, p.m.cfg.DB, p.rows)
		if err != nil {
			return nil, err
		}
		kept := sends[:0]
		for _, ps := range sends {
			if inserted[ps.insert] {
				kept = append(kept, ps)
			} else { // a concurrent run took the key between the lookup and the insert
				again = append(again, ps.i)
			}
		}
		sends = kept
	}
	p.m.transmitAll(ctx, p, sends, again)
	return p.out, nil
}

// pageSend is one recipient of a prepared page. Its document is made when it is sent (the
// page's render with its token, links and pixel), so a prepared page holds one render.
type pageSend struct {
	i          int // index in the broadcast
	s          *send
	row        *store.SendRow
	redirect   map[string]string
	html, text string // kept only for a template rendered per recipient
	insert     int    // index in the page's insert
}

// document is the send's HTML and text as they go out.
func (p *PreparedBroadcast) document(ps *pageSend) (string, string) {
	html, text := ps.html, ps.text
	if !p.page.perRecipient {
		html, text = p.page.personalise(ps.s.props["unsubscribeUrl"])
	}
	return p.m.applyTracking(ps.row.ID, html, ps.redirect), text
}

// transmitAll runs the page's provider calls and replays, Concurrency at a time.
func (m *Mailer) transmitAll(ctx context.Context, p *PreparedBroadcast, sends []*pageSend, again []int) {
	b, out := p.b, p.out
	work := make(chan func(), cmp.Or(b.Concurrency, 16))
	var wg sync.WaitGroup
	for range cmp.Or(b.Concurrency, 16) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range work {
				f()
			}
		}()
	}
	pace := func() error {
		if b.Pace == nil {
			return nil
		}
		return b.Pace(ctx)
	}
	for _, ps := range sends {
		work <- func() {
			if err := pace(); err != nil {
				m.fail(ctx, ps.row.ID)
				out[ps.i] = BroadcastResult{Result: Result{EmailSendID: ps.row.ID}, Err: err}
				return
			}
			html, text := p.document(ps)
			res, err := m.transmit(ctx, ps.s, *ps.row, html, text)
			out[ps.i] = BroadcastResult{Result: res, Err: err}
		}
	}
	for _, i := range again {
		r := b.Recipients[i]
		work <- func() {
			if err := pace(); err != nil {
				out[i].Err = err
				return
			}
			res, err := m.Send(ctx, SendOptions{Template: b.Template, Props: b.Props, To: r.To, From: b.From, Subject: b.Subject,
				UserID: r.UserID, UserEmail: r.To, Category: b.Category, IdempotencyKey: r.IdempotencyKey})
			out[i] = BroadcastResult{Result: res, Err: err}
		}
	}
	close(work)
	wg.Wait()
}

// renderedPage is a broadcast's one render, with each recipient's unsubscribe token left as a
// placeholder.
type renderedPage struct {
	html, text   string
	links        []string // its trackable link targets (the unsubscribe link is none)
	perRecipient bool     // the placeholder did not survive rendering as written: render each one
}

// pageRender renders the template once for the page. When the caller set unsubscribeUrl
// itself, that one render is every recipient's.
func (m *Mailer) pageRender(b Broadcast) (renderedPage, error) {
	props := maps.Clone(b.Props)
	if props == nil {
		props = email.Props{}
	}
	if props["unsubscribeUrl"] == nil {
		props["unsubscribeUrl"] = m.cfg.PublicURL + "/v1/email/unsubscribe?token=" + unsubscribePlaceholder
	}
	rendered, err := m.cfg.Templates.Render(b.Template, props)
	if err != nil {
		return renderedPage{}, err
	}
	page := renderedPage{html: rendered.HTML, text: rendered.Text, links: TrackableLinks(rendered.HTML)}
	// The substitution is exact only if the template wrote the URL as given (no escaping it
	// would apply to the real token): check it on the real URL of a sample token.
	sample := m.UnsubscribeURL("sample", "sample@example.com", ActionUnsubscribe, b.Category)
	want, err := m.cfg.Templates.Render(b.Template, withProp(props, "unsubscribeUrl", sample))
	if err == nil {
		got, gotText := page.personalise(sample)
		page.perRecipient = got != want.HTML || gotText != want.Text
	}
	return page, nil
}

// personalise puts a recipient's unsubscribe URL (its token) into the page.
func (p renderedPage) personalise(unsubscribeURL any) (string, string) {
	u, _ := unsubscribeURL.(string)
	_, token, ok := strings.Cut(u, "?token=")
	if !ok {
		return p.html, p.text
	}
	return strings.ReplaceAll(p.html, unsubscribePlaceholder, token), strings.ReplaceAll(p.text, unsubscribePlaceholder, token)
}

func withProp(props email.Props, k string, v any) email.Props {
	out := maps.Clone(props)
	out[k] = v
	return out
}
