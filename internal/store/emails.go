package store

import (
	"context"
	"fmt"
)

// Send statuses in lifecycle order. A send's status only moves forward along this order
// (failed aside): a late "delivered" never undoes an "opened".
var emailStatusRank = map[string]int{
	"queued": 0, "rendered": 1, "sent": 2, "delivered": 3, "opened": 4, "clicked": 5, "bounced": 6, "complained": 7,
}

// emailStatusTimestamp is the timestamp column each status sets (first occurrence wins).
var emailStatusTimestamp = map[string]string{
	"sent": "sent_at", "delivered": "delivered_at", "opened": "opened_at", "clicked": "clicked_at",
	"bounced": "bounced_at", "complained": "complained_at",
}

// AdvanceEmailStatus records a lifecycle step of the sends with a provider id: the step's
// timestamp is set if still empty, and the status moves to the step only if that is forward (a
// failed send only ever becomes bounced or complained). It returns the ids of the rows it matched.
func AdvanceEmailStatus(ctx context.Context, db DBTX, providerID, status string) ([]string, error) {
	rank, ok := emailStatusRank[status]
	col, hasTime := emailStatusTimestamp[status]
	if !ok || !hasTime {
		return nil, fmt.Errorf("unknown email status %q", status)
	}
	rows, err := db.Query(ctx, `UPDATE email_sends SET `+col+` = coalesce(`+col+`, now()), updated_at = now(),
		status = CASE
			WHEN status = 'failed' THEN (CASE WHEN $3 >= 6 THEN $2::email_send_status ELSE status END)
			WHEN $3 > (CASE status::text `+rankCases()+` END) THEN $2::email_send_status
			ELSE status END
		WHERE resend_id = $1 RETURNING id::text`, providerID, status, rank)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// rankCases renders the status ranks as CASE branches (constants, not input).
func rankCases() string {
	out := ""
	for _, s := range []string{"queued", "rendered", "sent", "delivered", "opened", "clicked", "bounced", "complained"} {
		out += fmt.Sprintf("WHEN '%s' THEN %d ", s, emailStatusRank[s])
	}
	return out + "ELSE -1"
}
