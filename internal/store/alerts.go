package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// AlertRule is a row of alert_rules.
type AlertRule struct {
	ID              string
	Name            string
	Type            string
	Threshold       map[string]float64
	Channel         string
	ChannelConfig   map[string]string
	Enabled         bool
	CooldownMinutes int
	LastFiredAt     *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

const alertRuleColumns = `id::text, name, type::text, threshold, channel::text, channel_config, enabled, cooldown_minutes,
	last_fired_at, created_at, updated_at`

func scanAlertRule(r pgx.Row) (AlertRule, error) {
	var a AlertRule
	err := r.Scan(&a.ID, &a.Name, &a.Type, &a.Threshold, &a.Channel, &a.ChannelConfig, &a.Enabled, &a.CooldownMinutes,
		&a.LastFiredAt, &a.CreatedAt, &a.UpdatedAt)
	return a, err
}

// InsertAlertRule stores a new, enabled rule.
func InsertAlertRule(ctx context.Context, db DBTX, a AlertRule) (AlertRule, error) {
	return scanAlertRule(db.QueryRow(ctx, `INSERT INTO alert_rules (name, type, threshold, channel, channel_config, cooldown_minutes)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+alertRuleColumns,
		a.Name, a.Type, a.Threshold, a.Channel, a.ChannelConfig, a.CooldownMinutes))
}

// AlertRuleByID reads a rule; ErrNotFound when it is missing.
func AlertRuleByID(ctx context.Context, db DBTX, id string) (AlertRule, error) {
	a, err := scanAlertRule(db.QueryRow(ctx, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE id = $1`, id))
	return a, interpret(err)
}

// AlertRulePatch changes what it sets.
type AlertRulePatch struct {
	Name            *string
	Threshold       map[string]float64
	ChannelConfig   map[string]string
	Enabled         *bool
	CooldownMinutes *int
}

// UpdateAlertRule applies a patch; ErrNotFound when the rule is missing.
func UpdateAlertRule(ctx context.Context, db DBTX, id string, p AlertRulePatch) (AlertRule, error) {
	a, err := scanAlertRule(db.QueryRow(ctx, `UPDATE alert_rules SET name = coalesce($2, name),
			threshold = coalesce($3, threshold), channel_config = coalesce($4, channel_config),
			enabled = coalesce($5, enabled), cooldown_minutes = coalesce($6, cooldown_minutes), updated_at = now()
		WHERE id = $1 RETURNING `+alertRuleColumns, id, p.Name, p.Threshold, p.ChannelConfig, p.Enabled, p.CooldownMinutes))
	return a, interpret(err)
}

// DeleteAlertRule deletes a rule with its history; ErrNotFound when it is missing.
func DeleteAlertRule(ctx context.Context, db DBTX, id string) error {
	tag, err := db.Exec(ctx, `DELETE FROM alert_rules WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// ListAlertRules returns rules newest first, and how many there are; enabledOnly for the check.
func ListAlertRules(ctx context.Context, db DBTX, enabledOnly bool, limit, offset int) ([]AlertRule, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM alert_rules WHERE NOT $1 OR enabled`, enabledOnly).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE NOT $1 OR enabled
		ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`, enabledOnly, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertRule, error) { return scanAlertRule(r) })
	return list, total, err
}

// EmailStats counts the sends created since a time by outcome. Delivered counts the sends
// that reached the mailbox, including those opened or clicked since (the reference counts
// only those still 'delivered', which makes engagement look like a delivery problem).
type EmailStats struct{ Total, Delivered, Bounced, Complained int }

// EmailStatsSince computes EmailStats over email_sends.created_at >= since.
func EmailStatsSince(ctx context.Context, db DBTX, since time.Time) (EmailStats, error) {
	var s EmailStats
	err := db.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE status IN ('delivered', 'opened', 'clicked')),
			count(*) FILTER (WHERE status = 'bounced'),
			count(*) FILTER (WHERE status = 'complained')
		FROM email_sends WHERE created_at >= $1`, since).Scan(&s.Total, &s.Delivered, &s.Bounced, &s.Complained)
	return s, err
}

// FailedJourneysSince counts journey runs created since a time that failed.
func FailedJourneysSince(ctx context.Context, db DBTX, since time.Time) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM journey_states WHERE status = 'failed' AND created_at >= $1`, since).Scan(&n)
	return n, err
}

// AlertFiring is one notification of a rule, delivered or not.
type AlertFiring struct {
	RuleID  string
	Payload map[string]any
	Status  string // sent | failed
	Error   *string
	At      time.Time
}

// RecordAlertFiring writes the history row and starts the rule's cooldown, in one transaction.
func RecordAlertFiring(ctx context.Context, db DBTX, f AlertFiring) error {
	return WithTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO alert_history (alert_rule_id, payload, delivery_status, error, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5)`, f.RuleID, f.Payload, f.Status, f.Error, f.At); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE alert_rules SET last_fired_at = $2 WHERE id = $1`, f.RuleID, f.At)
		return err
	})
}

// AlertHistoryEntry is a row of alert_history.
type AlertHistoryEntry struct {
	ID, RuleID string
	Payload    map[string]any
	Status     string
	Error      *string
	CreatedAt  time.Time
}

// ListAlertHistory returns firings newest first; ruleID "" = every rule.
func ListAlertHistory(ctx context.Context, db DBTX, ruleID string, from, to *time.Time, limit, offset int) ([]AlertHistoryEntry, int, error) {
	const where = ` FROM alert_history WHERE ($1 = '' OR alert_rule_id::text = $1)
		AND ($2::timestamptz IS NULL OR created_at >= $2) AND ($3::timestamptz IS NULL OR created_at <= $3)`
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*)`+where, ruleID, from, to).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT id::text, alert_rule_id::text, payload, delivery_status, error, created_at`+where+`
		ORDER BY created_at DESC, id LIMIT $4 OFFSET $5`, ruleID, from, to, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertHistoryEntry, error) {
		var e AlertHistoryEntry
		err := r.Scan(&e.ID, &e.RuleID, &e.Payload, &e.Status, &e.Error, &e.CreatedAt)
		return e, err
	})
	return list, total, err
}
