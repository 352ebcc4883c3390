// Package alerts evaluates the operator's alert rules against recent sends and journey runs,
// and notifies their channel (a webhook, Slack, or an email sent without tracking).
package alerts

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/store"
)

// Rule types and channels (the enums of alert_rules).
const (
	BounceRate    = "bounce_rate_exceeded"
	JourneyFail   = "journey_failure_spike"
	DeliveryIssue = "delivery_issue"
	ComplaintRate = "high_complaint_rate"

	Webhook = "webhook"
	Slack   = "slack"
	Email   = "email"
)

// Types are the rule types, each with the threshold key a bare number stands for.
var Types = map[string]string{BounceRate: "rate", ComplaintRate: "rate", DeliveryIssue: "minDeliveryRate", JourneyFail: "count"}

// Channels are the notification channels.
var Channels = []string{Webhook, Slack, Email}

// minSends is how many sends a rate needs before it can fire: a bounce among three is noise.
const minSends = 10

// Checker evaluates every enabled rule.
type Checker struct {
	DB     store.DBTX
	Client *http.Client   // nil = one with a 10 s timeout
	Mail   email.Provider // the email channel; nil = that channel fails
	From   string         // ALERTS_FROM_EMAIL
	Logger *slog.Logger
	Now    func() time.Time
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Check evaluates each enabled rule once. A rule that cannot be evaluated is logged and the
// others go on; a notification that fails is still recorded, and its cooldown starts.
func (c *Checker) Check(ctx context.Context) (contract.AlertCheckResult, error) {
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	rules, _, err := store.ListAlertRules(ctx, c.DB, true, math.MaxInt32, 0)
	if err != nil {
		return contract.AlertCheckResult{}, err
	}
	var res contract.AlertCheckResult
	for _, r := range rules {
		res.Evaluated++
		if r.LastFiredAt != nil && now.Sub(*r.LastFiredAt) < time.Duration(r.CooldownMinutes)*time.Minute {
			continue
		}
		payload, fire, err := c.evaluate(ctx, r, now)
		if err != nil {
			c.Logger.Error("Alert evaluation failed", "rule", r.Name, "error", err.Error())
			res.Errors++
			continue
		}
		if !fire {
			continue
		}
		f := store.AlertFiring{RuleID: r.ID, Payload: payload, Status: "sent", At: now}
		if err := c.notify(ctx, r, payload); err != nil {
			msg := err.Error()
			f.Status, f.Error = "failed", &msg
		}
		if err := store.RecordAlertFiring(ctx, c.DB, f); err != nil {
			return res, err // the check retries; a second notification beats a lost one
		}
		c.Logger.Info("Alert fired", "rule", r.Name, "type", r.Type, "deliveryStatus", f.Status)
		res.Fired++
	}
	return res, nil
}

// threshold is the rule's value for key, else the type's default.
func threshold(r store.AlertRule, key string, def float64) float64 {
	if v, ok := r.Threshold[key]; ok {
		return v
	}
	return def
}

// evaluate computes the rule's metric over its window and whether it fires.
func (c *Checker) evaluate(ctx context.Context, r store.AlertRule, now time.Time) (map[string]any, bool, error) {
	window := threshold(r, "windowMinutes", 60)
	since := now.Add(-time.Duration(window * float64(time.Minute)))
	if r.Type == JourneyFail {
		failures, err := store.FailedJourneysSince(ctx, c.DB, since)
		limit := threshold(r, "count", 5)
		return map[string]any{"failures": failures, "threshold": limit, "windowMinutes": window}, float64(failures) >= limit, err
	}
	s, err := store.EmailStatsSince(ctx, c.DB, since)
	if err != nil {
		return nil, false, err
	}
	ratio := func(n int, empty float64) float64 {
		if s.Total == 0 {
			return empty
		}
		return math.Round(float64(n)/float64(s.Total)*10000) / 10000
	}
	enough := s.Total >= minSends
	switch r.Type {
	case BounceRate:
		rate, limit := ratio(s.Bounced, 0), threshold(r, "rate", 0.05)
		return map[string]any{"bounced": s.Bounced, "total": s.Total, "rate": rate, "threshold": limit}, enough && rate > limit, nil
	case ComplaintRate:
		rate, limit := ratio(s.Complained, 0), threshold(r, "rate", 0.01)
		return map[string]any{"complained": s.Complained, "total": s.Total, "rate": rate, "threshold": limit}, enough && rate > limit, nil
	case DeliveryIssue:
		rate, limit := ratio(s.Delivered, 1), threshold(r, "minDeliveryRate", 0.9)
		return map[string]any{"delivered": s.Delivered, "total": s.Total, "deliveryRate": rate, "threshold": limit}, enough && rate < limit, nil
	}
	return nil, false, fmt.Errorf("unknown rule type %q", r.Type)
}

// message is the one-line text of a firing.
func message(r store.AlertRule, payload map[string]any) string {
	raw, _ := json.Marshal(payload)
	return fmt.Sprintf("[Hogsend Alert] %s: %s triggered — %s", r.Name, r.Type, raw)
}

// notify sends the firing to the rule's channel; the error is what the history records.
func (c *Checker) notify(ctx context.Context, r store.AlertRule, payload map[string]any) error {
	switch r.Channel {
	case Webhook:
		body := map[string]any{"rule": r.Name, "type": r.Type}
		for k, v := range payload {
			body[k] = v
		}
		return c.post(ctx, r.ChannelConfig["url"], body)
	case Slack:
		return c.post(ctx, r.ChannelConfig["webhookUrl"], map[string]any{"text": message(r, payload)})
	case Email:
		to := strings.TrimSpace(r.ChannelConfig["to"])
		if to == "" {
			return errors.New("channelConfig.to is missing")
		}
		if c.Mail == nil {
			return errors.New("no email provider is configured")
		}
		pretty, _ := json.MarshalIndent(payload, "", "  ")
		text := message(r, payload)
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := c.Mail.Send(ctx, email.Message{From: c.From, To: []string{to}, Subject: "[Hogsend Alert] " + r.Name,
			HTML: "<p>" + html.EscapeString(text) + "</p><pre>" + html.EscapeString(string(pretty)) + "</pre>",
			Text: text + "\n\n" + string(pretty)})
		return err
	}
	return fmt.Errorf("Unknown channel: %s", r.Channel)
}

func (c *Checker) post(ctx context.Context, url string, body any) error {
	if strings.TrimSpace(url) == "" {
		return errors.New("channel URL is missing")
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := cmp.Or(c.Client, defaultClient).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, http.StatusText(res.StatusCode))
	}
	return nil
}
