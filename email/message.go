package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// Message is one email as providers send it.
type Message struct {
	From                 string
	To, Cc, Bcc, ReplyTo []string
	Subject, HTML, Text  string
	Headers              map[string]string // written in sorted key order
	Tags                 []Tag
	// IdempotencyKey and MessageID ("" = a new one) stay the same across retries of one send,
	// so a provider or a mailbox can recognise a repeat.
	IdempotencyKey string
	MessageID      string
}

// Tag is a name/value label (a provider tag, an X-Hogsend-Tag header over SMTP).
type Tag struct {
	Name, Value string
}

// SendResult is the provider's id of a sent message.
type SendResult struct {
	ID string
}

// Provider delivers messages.
type Provider interface {
	Name() string
	Send(ctx context.Context, m Message) (SendResult, error)
}

// SendError is a classified provider failure: Retryable ones may succeed later (network, 429,
// 5xx over HTTP, 4xx SMTP replies), the others never will (validation, auth, 5xx SMTP replies).
// Ambiguous ones may have been accepted: the request or the message data was sent and no answer
// came back (a timeout, a dropped connection). Only a retry with the same IdempotencyKey and
// MessageID may follow one.
type SendError struct {
	Retryable  bool
	Ambiguous  bool
	StatusCode int
	Err        error
}

func (e *SendError) Error() string { return e.Err.Error() }
func (e *SendError) Unwrap() error { return e.Err }

// Retryable reports whether err is worth another attempt (unclassified errors are).
func Retryable(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.Retryable
	}
	return err != nil
}

// Ambiguous reports whether err leaves open that the provider accepted the message.
func Ambiguous(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Ambiguous
}

// Recipients are every envelope recipient: To, Cc and Bcc.
func (m Message) Recipients() []string {
	return slices.Concat(m.To, m.Cc, m.Bcc)
}

// NewMessageID returns a random Message-ID (without angle brackets) in the sender's domain.
func NewMessageID(from string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return MessageIDFor(hex.EncodeToString(b), from)
}

// MessageIDFor returns the Message-ID (without angle brackets) with local part local in the
// sender's domain: the same for every attempt of one send.
func MessageIDFor(local, from string) string {
	domain := "hogsend.local"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	return local + "@" + domain
}

// MIME renders m as an RFC 5322 message: multipart/alternative with the text part first, both
// UTF-8 quoted-printable; Bcc is left out (envelope only).
func (m Message) MIME(messageID string, date time.Time) ([]byte, error) {
	var buf bytes.Buffer
	header := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&buf, "%s: %s\r\n", name, value)
		}
	}
	header("From", m.From)
	header("To", strings.Join(m.To, ", "))
	header("Cc", strings.Join(m.Cc, ", "))
	header("Reply-To", strings.Join(m.ReplyTo, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+messageID+">")
	header("MIME-Version", "1.0")
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.ContainsAny(k+m.Headers[k], "\r\n") {
			return nil, fmt.Errorf("header %q contains a line break", k)
		}
		header(k, m.Headers[k])
	}
	for _, t := range m.Tags {
		header("X-Hogsend-Tag", t.Name+"="+t.Value)
	}
	mw := multipart.NewWriter(&buf)
	header("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	buf.WriteString("\r\n")
	for _, part := range []struct{ kind, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		if part.body == "" {
			continue
		}
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.kind + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(part.body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
