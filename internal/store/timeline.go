package store

import (
	"context"
	"time"
)

// TimelineEntry is one item of a contact's merged history.
type TimelineEntry struct {
	Type      string // event | journey | email
	Timestamp time.Time
	ID        string
	// Name is the event name, the journey id or the template key.
	Name                            *string
	Status                          *string
	Properties                      map[string]any
	CurrentNodeID, Subject, ToEmail *string
	CompletedAt, ExitedAt           *time.Time
	SentAt, DeliveredAt, OpenedAt   *time.Time
}

// Timeline merges a user key's events, journey runs and journey sends, newest first. Each source
// contributes at most limit+offset rows before the merge, so paging stays cheap; total counts
// every row of the selected sources.
func Timeline(ctx context.Context, db DBTX, key string, types []string, limit, offset int) ([]TimelineEntry, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT
		CASE WHEN 'event' = ANY($2) THEN (SELECT count(*) FROM user_events WHERE user_id = $1) ELSE 0 END +
		CASE WHEN 'journey' = ANY($2) THEN (SELECT count(*) FROM journey_states WHERE user_id = $1 AND deleted_at IS NULL) ELSE 0 END +
		CASE WHEN 'email' = ANY($2) THEN (SELECT count(*) FROM email_sends s JOIN journey_states j ON j.id = s.journey_state_id
			WHERE j.user_id = $1 AND j.deleted_at IS NULL) ELSE 0 END`, key, types).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT * FROM (
		(SELECT 'event' AS type, occurred_at AS ts, id::text, event AS name, NULL::text AS status, coalesce(properties, '{}'::jsonb) AS properties,
			NULL::text AS node, NULL::text AS subject, NULL::text AS to_email, NULL::timestamptz AS completed_at, NULL::timestamptz AS exited_at,
			NULL::timestamptz AS sent_at, NULL::timestamptz AS delivered_at, NULL::timestamptz AS opened_at
		 FROM user_events WHERE user_id = $1 AND 'event' = ANY($2) ORDER BY occurred_at DESC LIMIT $3)
		UNION ALL
		(SELECT 'journey', created_at, id::text, journey_id, status::text, NULL, current_node_id, NULL, NULL, completed_at, exited_at, NULL, NULL, NULL
		 FROM journey_states WHERE user_id = $1 AND deleted_at IS NULL AND 'journey' = ANY($2) ORDER BY created_at DESC LIMIT $3)
		UNION ALL
		(SELECT 'email', s.created_at, s.id::text, s.template_key, s.status::text, NULL, NULL, s.subject, s.to_email, NULL, NULL,
			s.sent_at, s.delivered_at, s.opened_at
		 FROM email_sends s JOIN journey_states j ON j.id = s.journey_state_id
		 WHERE j.user_id = $1 AND j.deleted_at IS NULL AND 'email' = ANY($2) ORDER BY s.created_at DESC LIMIT $3)
	) t ORDER BY ts DESC, id LIMIT $4 OFFSET $5`, key, types, limit+offset, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []TimelineEntry
	for rows.Next() {
		var e TimelineEntry
		if err := rows.Scan(&e.Type, &e.Timestamp, &e.ID, &e.Name, &e.Status, &e.Properties, &e.CurrentNodeID, &e.Subject, &e.ToEmail,
			&e.CompletedAt, &e.ExitedAt, &e.SentAt, &e.DeliveredAt, &e.OpenedAt); err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}
