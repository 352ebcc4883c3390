// Package smtp is the SMTP email provider: any ESP's SMTP endpoint, or Mailpit in development.
package smtp

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hogsend/hogsend/email"
)

// TLS modes.
const (
	TLSNone     = "none"     // plain text, never upgraded
	TLSStartTLS = "starttls" // upgrade when the server offers it (the default of smtp://)
	TLSImplicit = "tls"      // TLS from the first byte (the default of smtps://)
)

// Provider sends over SMTP, keeping up to MaxIdle sessions open between messages (one
// handshake, TLS and login serve many messages). Safe for concurrent use.
type Provider struct {
	Addr      string // host:port
	Username  string
	Password  string
	TLS       string
	TLSConfig *tls.Config   // nil = verify the server name
	Timeout   time.Duration // per command round; defaults to 30 s
	MaxIdle   int           // sessions kept open; defaults to 1
	// DisablePipelining sends one command per round trip even to a server that offers
	// PIPELINING (RFC 2920), for servers that mishandle it.
	DisablePipelining bool
	Now               func() time.Time

	once sync.Once
	idle chan *conn
}

// New reads smtp[s]://[user:pass@]host:port[?tls=none|starttls|tls].
func New(rawURL string) (*Provider, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("SMTP_URL %q: want smtp[s]://[user:pass@]host:port", rawURL)
	}
	p := &Provider{Addr: u.Host, Timeout: 30 * time.Second}
	switch u.Scheme {
	case "smtp":
		p.TLS = TLSStartTLS
		if u.Port() == "" {
			p.Addr = net.JoinHostPort(u.Hostname(), "25")
		}
	case "smtps":
		p.TLS = TLSImplicit
		if u.Port() == "" {
			p.Addr = net.JoinHostPort(u.Hostname(), "465")
		}
	default:
		return nil, fmt.Errorf("SMTP_URL %q: scheme must be smtp or smtps", rawURL)
	}
	if mode := u.Query().Get("tls"); mode != "" {
		if mode != TLSNone && mode != TLSStartTLS && mode != TLSImplicit {
			return nil, fmt.Errorf("SMTP_URL %q: tls must be none, starttls or tls", rawURL)
		}
		p.TLS = mode
	}
	if u.User != nil {
		p.Username = u.User.Username()
		p.Password, _ = u.User.Password()
	}
	return p, nil
}

// Name implements email.Provider.
func (p *Provider) Name() string { return "smtp" }

// Send implements email.Provider. The id is the Message-ID.
func (p *Provider) Send(ctx context.Context, m email.Message) (email.SendResult, error) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	id := cmp.Or(m.MessageID, email.NewMessageID(m.From))
	body, err := m.MIME(id, now())
	if err != nil {
		return email.SendResult{}, &email.SendError{Err: err}
	}
	from, err := envelopeAddress(m.From)
	if err != nil {
		return email.SendResult{}, &email.SendError{Err: err}
	}
	var rcpt []string
	for _, r := range m.Recipients() {
		a, err := envelopeAddress(r)
		if err != nil {
			return email.SendResult{}, &email.SendError{Err: err}
		}
		rcpt = append(rcpt, a)
	}
	if len(rcpt) == 0 {
		return email.SendResult{}, &email.SendError{Err: errors.New("no recipients")}
	}
	if err := p.deliver(ctx, from, rcpt, body); err != nil {
		return email.SendResult{}, classify(err)
	}
	return email.SendResult{ID: id}, nil
}

func envelopeAddress(s string) (string, error) {
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", fmt.Errorf("invalid address %q", s)
	}
	return a.Address, nil
}

// conn is one SMTP session, kept open between messages.
type conn struct {
	raw net.Conn
	c   *smtp.Client
}

func (c *conn) close() { _ = c.c.Close() }

func (p *Provider) timeout() time.Duration {
	if p.Timeout == 0 {
		return 30 * time.Second
	}
	return p.Timeout
}

// dial opens a session: connect, TLS as configured, authenticate.
func (p *Provider) dial(ctx context.Context) (*conn, error) {
	host, _, _ := net.SplitHostPort(p.Addr)
	tlsCfg := p.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	d := net.Dialer{Timeout: p.timeout()}
	var raw net.Conn
	var err error
	if p.TLS == TLSImplicit {
		raw, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", p.Addr)
	} else {
		raw, err = d.DialContext(ctx, "tcp", p.Addr)
	}
	if err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(p.timeout()))
	c, err := smtp.NewClient(raw, host)
	if err != nil {
		raw.Close()
		return nil, err
	}
	s := &conn{raw: raw, c: c}
	if p.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				s.close()
				return nil, err
			}
		}
	}
	if p.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", p.Username, p.Password, host)); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// get takes an idle session or opens one; reused reports which.
func (p *Provider) get(ctx context.Context) (s *conn, reused bool, err error) {
	p.once.Do(func() { p.idle = make(chan *conn, max(p.MaxIdle, 1)) })
	select {
	case s := <-p.idle:
		return s, true, nil
	default:
	}
	s, err = p.dial(ctx)
	return s, false, err
}

// put keeps a healthy session for the next message, or closes it when enough are idle.
func (p *Provider) put(s *conn) {
	select {
	case p.idle <- s:
	default:
		_ = s.c.Quit()
	}
}

// Close closes the idle sessions.
func (p *Provider) Close() {
	p.once.Do(func() { p.idle = make(chan *conn, max(p.MaxIdle, 1)) })
	for {
		select {
		case s := <-p.idle:
			_ = s.c.Quit()
		default:
			return
		}
	}
}

// deliver sends one message on a session. A reused session the server has meanwhile dropped is
// replaced by a fresh one once.
func (p *Provider) deliver(ctx context.Context, from string, rcpt []string, body []byte) error {
	for {
		s, reused, err := p.get(ctx)
		if err != nil {
			return err
		}
		err = p.transact(ctx, s, from, rcpt, body)
		var reply *textproto.Error
		var aborted *abortedError
		switch {
		case err == nil:
			p.put(s)
			return nil
		case errors.As(err, &aborted), errors.Is(err, errAfterData):
			s.close()
			return err // never again on a fresh session: the server may hold the message
		case errors.As(err, &reply) && s.c.Reset() == nil:
			p.put(s) // the server refused this message; the session is fine
			return err
		}
		s.close()
		if !reused {
			return err
		}
	}
}

func (p *Provider) transact(ctx context.Context, s *conn, from string, rcpt []string, body []byte) error {
	deadline := time.Now().Add(p.timeout())
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = s.raw.SetDeadline(deadline)
	if ok, _ := s.c.Extension("PIPELINING"); ok && !p.DisablePipelining {
		return pipelined(s.c, from, rcpt, body)
	}
	if err := s.c.Mail(from); err != nil {
		return err
	}
	for _, r := range rcpt {
		if err := s.c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := s.c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return afterData(err)
	}
	return afterData(w.Close())
}

// errAfterData marks a failure once message data was on the wire with no reply to it: the
// server may have queued the message.
var errAfterData = errors.New("connection lost after the message data was sent")

// afterData wraps a failure after DATA: a reply is a clear refusal; anything else is ambiguous.
func afterData(err error) error {
	var reply *textproto.Error
	if err == nil || errors.As(err, &reply) {
		return err
	}
	return fmt.Errorf("%w: %w", errAfterData, err)
}

// pipelined runs one transaction with RFC 2920 pipelining: MAIL, RCPT and DATA go out in one
// write and their replies are read together, then the message and its final reply — two round
// trips instead of three plus one per recipient.
func pipelined(c *smtp.Client, from string, rcpt []string, body []byte) error {
	for _, a := range append([]string{from}, rcpt...) {
		if strings.ContainsAny(a, "\r\n<>") {
			return fmt.Errorf("invalid envelope address %q", a)
		}
	}
	w := c.Text.W
	fmt.Fprintf(w, "MAIL FROM:<%s>\r\n", from)
	for _, r := range rcpt {
		fmt.Fprintf(w, "RCPT TO:<%s>\r\n", r)
	}
	w.WriteString("DATA\r\n")
	if err := w.Flush(); err != nil {
		return err
	}
	// Every reply is read, failed or not, so the session stays in step.
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	if _, _, err := c.Text.ReadResponse(250); err != nil {
		keep(err)
	}
	for range rcpt {
		if _, _, err := c.Text.ReadResponse(25); err != nil {
			keep(err)
		}
	}
	if _, _, err := c.Text.ReadResponse(354); err != nil {
		keep(err)
		return first // DATA refused: no message to end
	}
	if first != nil {
		// DATA was accepted for the recipients that were not refused. Ending the data now would
		// deliver an empty message to them; only dropping the session abandons it.
		return &abortedError{first}
	}
	if err := writeData(c, body); err != nil {
		return afterData(err)
	}
	_, _, err := c.Text.ReadResponse(250)
	return afterData(err)
}

// writeData writes a message as DATA content: dot-stuffed, ended by ".". A CRLF-only body (what
// Message.MIME produces) is stuffed in bulk; anything else goes through textproto's byte-wise
// writer, which also normalises line ends.
func writeData(c *smtp.Client, body []byte) error {
	if bytes.Count(body, []byte("\n")) != bytes.Count(body, []byte("\r\n")) {
		dw := c.Text.DotWriter()
		if _, err := dw.Write(body); err != nil {
			return err
		}
		return dw.Close()
	}
	w := c.Text.W
	if bytes.HasPrefix(body, []byte(".")) {
		w.WriteByte('.')
	}
	for rest := body; ; {
		i := bytes.Index(rest, []byte("\r\n."))
		if i < 0 {
			w.Write(rest)
			break
		}
		w.Write(rest[:i+3])
		w.WriteByte('.')
		rest = rest[i+3:]
	}
	if len(body) > 0 && !bytes.HasSuffix(body, []byte("\r\n")) {
		w.WriteString("\r\n")
	}
	w.WriteString(".\r\n")
	return w.Flush()
}

// abortedError is a refusal that left the session mid-transaction: it must be closed.
type abortedError struct{ err error }

func (e *abortedError) Error() string { return e.err.Error() }
func (e *abortedError) Unwrap() error { return e.err }

// classify: 5xx replies are permanent; 4xx replies and network failures may pass later; a
// failure after the data went out is ambiguous.
func classify(err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &email.SendError{Retryable: tp.Code < 500, StatusCode: tp.Code, Err: fmt.Errorf("smtp: %w", err)}
	}
	return &email.SendError{Retryable: true, Ambiguous: errors.Is(err, errAfterData), Err: fmt.Errorf("smtp: %w", err)}
}

var _ email.Provider = (*Provider)(nil)
