package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hogsend/hogsend/internal/alerts"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

type alertHandlers struct {
	db *pgxpool.Pool
}

type alertRuleJSON struct {
	ID              string             `json:"id"`
	Name            string             `json:"name"`
	Type            string             `json:"type"`
	Threshold       map[string]float64 `json:"threshold"`
	Channel         string             `json:"channel"`
	ChannelConfig   map[string]string  `json:"channelConfig"`
	Enabled         bool               `json:"enabled"`
	CooldownMinutes int                `json:"cooldownMinutes"`
	LastFiredAt     *string            `json:"lastFiredAt"`
	CreatedAt       string             `json:"createdAt"`
	UpdatedAt       string             `json:"updatedAt"`
}

func ruleJSON(r store.AlertRule) alertRuleJSON {
	return alertRuleJSON{ID: r.ID, Name: r.Name, Type: r.Type, Threshold: r.Threshold, Channel: r.Channel,
		ChannelConfig: r.ChannelConfig, Enabled: r.Enabled, CooldownMinutes: r.CooldownMinutes,
		LastFiredAt: ptr.Map(r.LastFiredAt, journey.Timestamp), CreatedAt: journey.Timestamp(r.CreatedAt),
		UpdatedAt: journey.Timestamp(r.UpdatedAt)}
}

var errRuleNotFound = &HTTPError{Status: http.StatusNotFound, Message: "Alert rule not found"}

// alertRuleBody is a create or a patch; type and channel are fixed once created.
type alertRuleBody struct {
	Name            *string           `json:"name"`
	Type            *string           `json:"type"`
	Threshold       json.RawMessage   `json:"threshold"`
	Channel         *string           `json:"channel"`
	ChannelConfig   map[string]string `json:"channelConfig"`
	Enabled         *bool             `json:"enabled"`
	CooldownMinutes *int              `json:"cooldownMinutes"`
}

// threshold reads an object of numbers; a bare number (as the reference documents) stands for
// the type's main key.
func (b alertRuleBody) threshold(kind string, v *ValidationError) map[string]float64 {
	if len(b.Threshold) == 0 || string(b.Threshold) == "null" {
		return nil
	}
	var n float64
	if json.Unmarshal(b.Threshold, &n) == nil {
		if key, ok := alerts.Types[kind]; ok {
			return map[string]float64{key: n}
		}
		v.Add("threshold", "invalid_type", "a bare number needs the rule's type; send an object of numbers")
		return nil
	}
	var obj map[string]float64
	if err := json.Unmarshal(b.Threshold, &obj); err != nil || obj == nil {
		v.Add("threshold", "invalid_type", "must be an object of numbers (e.g. {\"rate\": 0.05, \"windowMinutes\": 60})")
		return nil
	}
	return obj
}

func (b alertRuleBody) common(v *ValidationError) {
	if b.Name != nil && strings.TrimSpace(*b.Name) == "" {
		v.Add("name", "too_small", "must not be empty")
	}
	if b.CooldownMinutes != nil && *b.CooldownMinutes < 1 {
		v.Add("cooldownMinutes", "too_small", "must be an integer ≥ 1")
	}
}

func (h *alertHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	if err := v.OrNil(); err != nil {
		return err
	}
	rules, total, err := store.ListAlertRules(c, h.db, false, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]alertRuleJSON, len(rules))
	for i, r := range rules {
		out[i] = ruleJSON(r)
	}
	c.JSON(http.StatusOK, gin.H{"rules": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

func (h *alertHandlers) create(c *gin.Context) error {
	var b alertRuleBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	v := &ValidationError{}
	if b.Name == nil {
		v.Add("name", "invalid_type", "is required")
	}
	kind := ptr.Deref(b.Type)
	if _, ok := alerts.Types[kind]; !ok {
		v.Add("type", "invalid_enum_value", "must be one of bounce_rate_exceeded, journey_failure_spike, delivery_issue, high_complaint_rate")
	}
	threshold := b.threshold(kind, v)
	if threshold == nil && len(v.Issues) == 0 {
		v.Add("threshold", "invalid_type", "is required")
	}
	if !slices.Contains(alerts.Channels, ptr.Deref(b.Channel)) {
		v.Add("channel", "invalid_enum_value", "must be one of %s", strings.Join(alerts.Channels, ", "))
	}
	if b.ChannelConfig == nil {
		v.Add("channelConfig", "invalid_type", "is required (an object of strings: url, webhookUrl or to)")
	}
	b.common(v)
	if err := v.OrNil(); err != nil {
		return err
	}
	cooldown := 60
	if b.CooldownMinutes != nil {
		cooldown = *b.CooldownMinutes
	}
	rule, err := store.InsertAlertRule(c, h.db, store.AlertRule{Name: strings.TrimSpace(*b.Name), Type: kind, Threshold: threshold,
		Channel: *b.Channel, ChannelConfig: b.ChannelConfig, CooldownMinutes: cooldown})
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, gin.H{"rule": ruleJSON(rule)})
	return nil
}

func (h *alertHandlers) update(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var b alertRuleBody
	if err := bindJSON(c, &b); err != nil {
		return err
	}
	v := &ValidationError{}
	if b.Type != nil || b.Channel != nil {
		v.Add("body", "unrecognized_keys", "type and channel cannot change; create another rule")
	}
	b.common(v)
	var threshold map[string]float64
	if len(b.Threshold) > 0 {
		// A bare number stands for the stored rule type's main key.
		stored, err := store.AlertRuleByID(c, h.db, id)
		if errors.Is(err, store.ErrNotFound) {
			return errRuleNotFound
		} else if err != nil {
			return err
		}
		kind := stored.Type
		threshold = b.threshold(kind, v)
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	rule, err := store.UpdateAlertRule(c, h.db, id, store.AlertRulePatch{Name: ptr.Map(b.Name, strings.TrimSpace), Threshold: threshold,
		ChannelConfig: b.ChannelConfig, Enabled: b.Enabled, CooldownMinutes: b.CooldownMinutes})
	if errors.Is(err, store.ErrNotFound) {
		return errRuleNotFound
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"rule": ruleJSON(rule)})
	return nil
}

func (h *alertHandlers) remove(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := store.DeleteAlertRule(c, h.db, id); errors.Is(err, store.ErrNotFound) {
		return errRuleNotFound
	} else if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"deleted": true})
	return nil
}

type alertHistoryJSON struct {
	ID             string         `json:"id"`
	AlertRuleID    string         `json:"alertRuleId"`
	Payload        map[string]any `json:"payload"`
	DeliveryStatus string         `json:"deliveryStatus"`
	Error          *string        `json:"error"`
	CreatedAt      string         `json:"createdAt"`
}

func (h *alertHandlers) history(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	ruleID := c.Query("ruleId")
	if _, err := uuid.Parse(ruleID); ruleID != "" && (err != nil || len(ruleID) != 36) {
		v.Add("ruleId", "invalid_string", "must be a UUID")
	}
	from, to := timeQuery(c, "from", v), timeQuery(c, "to", v)
	if err := v.OrNil(); err != nil {
		return err
	}
	rows, total, err := store.ListAlertHistory(c, h.db, ruleID, from, to, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]alertHistoryJSON, len(rows))
	for i, r := range rows {
		out[i] = alertHistoryJSON{ID: r.ID, AlertRuleID: r.RuleID, Payload: r.Payload, DeliveryStatus: r.Status, Error: r.Error,
			CreatedAt: journey.Timestamp(r.CreatedAt)}
	}
	c.JSON(http.StatusOK, gin.H{"history": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}
