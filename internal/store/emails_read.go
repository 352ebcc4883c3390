package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// EmailSend is an email_sends row as the admin API shows it, with its journey context.
type EmailSend struct {
	ID                                                                string
	JourneyStateID                                                    *string
	TemplateKey                                                       *string
	ResendID                                                          *string
	FromEmail                                                         string
	ToEmail                                                           string
	Subject                                                           string
	Category                                                          *string
	Status                                                            string
	StatusReason                                                      string  // "" = none
	UserID                                                            *string // the row's, else the run's
	RowUserID                                                         *string // the row's own (denormalized) user id
	JourneyID                                                         *string
	SentAt, DeliveredAt, OpenedAt, ClickedAt, BouncedAt, ComplainedAt *time.Time
	BounceType                                                        *string
	CreatedAt, UpdatedAt                                              time.Time
	Props                                                             map[string]any
	// Journey context (nil fields when the send has no live run).
	JourneyUserID, JourneyStatus, JourneyNode *string
}

const emailSendColumns = `es.id::text, es.journey_state_id::text, es.template_key, es.resend_id, es.from_email, es.to_email,
	es.subject, es.category, es.status::text, coalesce(es.user_id, js.user_id), js.journey_id, es.sent_at, es.delivered_at,
	es.opened_at, es.clicked_at, es.bounced_at, es.complained_at, es.bounce_type, es.created_at, es.updated_at, es.props,
	js.user_id, js.status::text, js.current_node_id, es.user_id, coalesce(es.status_reason, '')`

const emailSendFrom = ` FROM email_sends es LEFT JOIN journey_states js ON js.id = es.journey_state_id AND js.deleted_at IS NULL`

func scanEmailSend(row pgx.Row) (EmailSend, error) {
	var e EmailSend
	err := row.Scan(&e.ID, &e.JourneyStateID, &e.TemplateKey, &e.ResendID, &e.FromEmail, &e.ToEmail, &e.Subject, &e.Category,
		&e.Status, &e.UserID, &e.JourneyID, &e.SentAt, &e.DeliveredAt, &e.OpenedAt, &e.ClickedAt, &e.BouncedAt, &e.ComplainedAt,
		&e.BounceType, &e.CreatedAt, &e.UpdatedAt, &e.Props, &e.JourneyUserID, &e.JourneyStatus, &e.JourneyNode, &e.RowUserID, &e.StatusReason)
	return e, interpret(err)
}

// EmailFilter narrows the admin email log; empty fields do not filter.
type EmailFilter struct {
	ToEmail, TemplateKey, Status, JourneyID, UserID, Category string
	UserIDOnly                                                string // the row's own user id (the export's userId)
	Engagement                                                string // opened | clicked | bounced | complained
	From, To                                                  *time.Time
	Sort                                                      string // createdAt | sentAt | openedAt | clickedAt
	Asc                                                       bool
	Limit, Offset                                             int
}

// EmailSortColumns are the sort keys of the email log.
var EmailSortColumns = map[string]string{"createdAt": "es.created_at", "sentAt": "es.sent_at", "openedAt": "es.opened_at", "clickedAt": "es.clicked_at"}

// EngagementColumns are the engagement filters of the email log and export.
var EngagementColumns = map[string]string{"opened": "es.opened_at", "clicked": "es.clicked_at", "bounced": "es.bounced_at", "complained": "es.complained_at"}

// where builds the filter's WHERE clause; values go in as parameters, column names only from the
// maps above.
func (f EmailFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.ToEmail != "" {
		add("es.to_email = lower($%d)", f.ToEmail)
	}
	if f.TemplateKey != "" {
		add("es.template_key = $%d", f.TemplateKey)
	}
	if f.Status != "" {
		add("es.status::text = $%d", f.Status)
	}
	if f.JourneyID != "" {
		add("js.journey_id = $%d", f.JourneyID)
	}
	if f.UserID != "" {
		args = append(args, f.UserID)
		conds = append(conds, fmt.Sprintf("(es.user_id = $%d OR js.user_id = $%d)", len(args), len(args)))
	}
	if f.UserIDOnly != "" {
		add("es.user_id = $%d", f.UserIDOnly)
	}
	if f.Category != "" {
		add("es.category = $%d", f.Category)
	}
	if col, ok := EngagementColumns[f.Engagement]; ok {
		conds = append(conds, col+" IS NOT NULL")
	}
	if f.From != nil {
		add("es.created_at >= $%d", *f.From)
	}
	if f.To != nil {
		add("es.created_at <= $%d", *f.To)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (f EmailFilter) orderBy() string {
	col, ok := EmailSortColumns[f.Sort]
	if !ok {
		col = "es.created_at"
	}
	if f.Asc {
		return " ORDER BY " + col + " ASC, es.id ASC"
	}
	return " ORDER BY " + col + " DESC, es.id DESC"
}

// ListEmailSends pages the email log.
func ListEmailSends(ctx context.Context, db DBTX, f EmailFilter) ([]EmailSend, int, error) {
	where, args := f.where()
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*)`+emailSendFrom+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	n := len(args)
	rows, err := db.Query(ctx, `SELECT `+emailSendColumns+emailSendFrom+where+f.orderBy()+
		fmt.Sprintf(" LIMIT $%d OFFSET $%d", n+1, n+2), append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []EmailSend{}
	for rows.Next() {
		e, err := scanEmailSend(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// EachEmailSend streams the sends of a filter, newest first, up to limit rows.
func EachEmailSend(ctx context.Context, db DBTX, f EmailFilter, limit int, fn func(EmailSend) error) error {
	where, args := f.where()
	rows, err := db.Query(ctx, `SELECT `+emailSendColumns+emailSendFrom+where+` ORDER BY es.created_at DESC, es.id DESC`+
		fmt.Sprintf(" LIMIT $%d", len(args)+1), append(args, limit)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEmailSend(rows)
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EmailSendByID finds one send.
func EmailSendByID(ctx context.Context, db DBTX, id string) (EmailSend, error) {
	return scanEmailSend(db.QueryRow(ctx, `SELECT `+emailSendColumns+emailSendFrom+` WHERE es.id = $1`, id))
}

// LinkClick is one recorded click.
type LinkClick struct {
	ID        string
	ClickedAt time.Time
	IPAddress *string
	UserAgent *string
}

// TrackedLinkClicks is a tracked link with its clicks.
type TrackedLinkClicks struct {
	ID          string
	OriginalURL string
	ClickCount  int
	Clicks      []LinkClick
}

// TrackedLinksOf returns a send's tracked links in creation order, each with its clicks.
func TrackedLinksOf(ctx context.Context, db DBTX, sendID string) ([]TrackedLinkClicks, error) {
	rows, err := db.Query(ctx, `SELECT l.id::text, l.original_url, l.click_count, c.id::text, c.clicked_at, c.ip_address, c.user_agent
		FROM tracked_links l LEFT JOIN link_clicks c ON c.tracked_link_id = l.id
		WHERE l.email_send_id = $1 ORDER BY l.created_at, l.id, c.clicked_at, c.id`, sendID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []TrackedLinkClicks{}
	for rows.Next() {
		var l TrackedLinkClicks
		var cid *string
		var c LinkClick
		var at *time.Time
		if err := rows.Scan(&l.ID, &l.OriginalURL, &l.ClickCount, &cid, &at, &c.IPAddress, &c.UserAgent); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].ID != l.ID {
			l.Clicks = []LinkClick{}
			out = append(out, l)
		}
		if cid != nil {
			c.ID, c.ClickedAt = *cid, *at
			last := &out[len(out)-1]
			last.Clicks = append(last.Clicks, c)
		}
	}
	return out, rows.Err()
}
