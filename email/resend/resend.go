// Package resend is the Resend email provider (its HTTP API).
package resend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hogsend/hogsend/email"
)

// Provider sends through https://api.resend.com.
type Provider struct {
	APIKey  string
	BaseURL string       // "" = https://api.resend.com
	HTTP    *http.Client // nil = a client with a 30 s timeout
}

var defaultClient = &http.Client{Timeout: 30 * time.Second}

// Name implements email.Provider.
func (p *Provider) Name() string { return "resend" }

type tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type request struct {
	From    string            `json:"from"`
	To      []string          `json:"to"`
	Subject string            `json:"subject"`
	HTML    string            `json:"html,omitempty"`
	Text    string            `json:"text,omitempty"`
	ReplyTo []string          `json:"reply_to,omitempty"`
	Cc      []string          `json:"cc,omitempty"`
	Bcc     []string          `json:"bcc,omitempty"`
	Tags    []tag             `json:"tags,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// Send implements email.Provider. 429 and 5xx answers and network failures are retryable;
// other 4xx answers are not. The idempotency key lets Resend drop a repeated send (24 h).
func (p *Provider) Send(ctx context.Context, m email.Message) (email.SendResult, error) {
	body := request{From: m.From, To: m.To, Subject: m.Subject, HTML: m.HTML, Text: m.Text, ReplyTo: m.ReplyTo,
		Cc: m.Cc, Bcc: m.Bcc, Headers: m.Headers}
	for _, t := range m.Tags {
		body.Tags = append(body.Tags, tag{Name: TagValue(t.Name), Value: TagValue(t.Value)})
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return email.SendResult{}, &email.SendError{Err: err}
	}
	base := p.BaseURL
	if base == "" {
		base = "https://api.resend.com"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/emails", bytes.NewReader(raw))
	if err != nil {
		return email.SendResult{}, &email.SendError{Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+p.APIKey)
	req.Header.Set("Content-Type", "application/json")
	if m.IdempotencyKey != "" {
		key := m.IdempotencyKey
		if len(key) > 256 {
			key = key[:256]
		}
		req.Header.Set("Idempotency-Key", key)
	}
	client := p.HTTP
	if client == nil {
		client = defaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		// Only a failed dial is known to be before Resend saw the request.
		var op *net.OpError
		ambiguous := !(errors.As(err, &op) && op.Op == "dial")
		return email.SendResult{}, &email.SendError{Retryable: true, Ambiguous: ambiguous, Err: fmt.Errorf("Failed to send email: %w", err)}
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	var out struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(answer, &out)
	if res.StatusCode >= 300 || out.ID == "" {
		msg := out.Message
		if msg == "" {
			msg = http.StatusText(res.StatusCode)
		}
		retryable := res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 || res.StatusCode < 300
		return email.SendResult{}, &email.SendError{Retryable: retryable, Ambiguous: res.StatusCode < 300, StatusCode: res.StatusCode,
			Err: fmt.Errorf("Failed to send email: %s", msg)}
	}
	return email.SendResult{ID: out.ID}, nil
}

// TagValue makes a tag name or value acceptable to Resend: [A-Za-z0-9_-], at most 256.
func TagValue(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 256 {
		b = b[:256]
	}
	return string(b)
}

var _ email.Provider = (*Provider)(nil)
