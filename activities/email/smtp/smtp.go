// Package smtp is the SMTP email provider: any ESP's SMTP endpoint, or Mailpit in development.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"time"

	"github.com/hogsend/hogsend/activities/email"
)

// TLS modes.
const (
	TLSNone     = "none"     // plain text, never upgraded
	TLSStartTLS = "starttls" // upgrade when the server offers it (the default of smtp://)
	TLSImplicit = "tls"      // TLS from the first byte (the default of smtps://)
)

// Provider sends over SMTP. One connection per message: simple and robust; pooling is for when
// throughput needs it.
type Provider struct {
	Addr      string // host:port
	Username  string
	Password  string
	TLS       string
	TLSConfig *tls.Config // nil = verify the server name
	Timeout   time.Duration
	Now       func() time.Time
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
	id := email.NewMessageID(m.From)
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

func (p *Provider) deliver(ctx context.Context, from string, rcpt []string, body []byte) error {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	host, _, _ := net.SplitHostPort(p.Addr)
	tlsCfg := p.TLSConfig
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	d := net.Dialer{Timeout: timeout}
	var conn net.Conn
	var err error
	if p.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", p.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", p.Addr)
	}
	if err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if p.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return err
			}
		}
	}
	if p.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", p.Username, p.Password, host)); err != nil {
			return err
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range rcpt {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// classify: 5xx replies are permanent; 4xx replies and network failures may pass later.
func classify(err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) {
		return &email.SendError{Retryable: tp.Code < 500, StatusCode: tp.Code, Err: fmt.Errorf("smtp: %w", err)}
	}
	return &email.SendError{Retryable: true, Err: fmt.Errorf("smtp: %w", err)}
}

var _ email.Provider = (*Provider)(nil)
