// Package sink is the file email provider for local development: every message is written as an
// .eml file (the same bytes SMTP would carry) and nothing leaves the machine.
package sink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hogsend/hogsend/email"
)

// Provider writes messages into Dir.
type Provider struct {
	Dir    string
	Logger *slog.Logger
}

// Name implements email.Provider.
func (p *Provider) Name() string { return "sink" }

// Send implements email.Provider; the id is "sink_<hex>". Disk errors are retryable.
func (p *Provider) Send(_ context.Context, m email.Message) (email.SendResult, error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	id := "sink_" + hex.EncodeToString(b)
	now := time.Now()
	body, err := m.MIME(email.NewMessageID(m.From), now)
	if err != nil {
		return email.SendResult{}, &email.SendError{Err: err}
	}
	if err := os.MkdirAll(p.Dir, 0o755); err != nil {
		return email.SendResult{}, &email.SendError{Retryable: true, Err: err}
	}
	path := filepath.Join(p.Dir, fmt.Sprintf("%d-%s.eml", now.UnixNano(), id))
	if err := os.WriteFile(path, body, 0o644); err != nil {
		return email.SendResult{}, &email.SendError{Retryable: true, Err: err}
	}
	if p.Logger != nil {
		p.Logger.Info("email written", "id", id, "file", path) // no address at info level: the file has it
	}
	return email.SendResult{ID: id}, nil
}

var _ email.Provider = (*Provider)(nil)
