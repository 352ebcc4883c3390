package buckets

import (
	"context"

	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Access reads bucket membership for application code (journeys use History().InBucket, a
// local activity). Every answer counts active members of live contacts only.
type Access struct{ DB store.DBTX }

// Member is one active membership.
type Member struct {
	ID, UserID string
	UserEmail  *string
	EnteredAt  string // ISO-8601 UTC with milliseconds
	EntryCount int
}

// MembersPage is one page of Members: Cursor is nil when there is no more.
type MembersPage struct {
	Data   []Member
	Count  int
	Cursor *string
}

// Member page sizes.
const (
	DefaultMembersPage = 50
	MaxMembersPage     = 100
)

// Count is the number of active members.
func (a Access) Count(ctx context.Context, bucketID string) (int, error) {
	return store.CountMembers(ctx, a.DB, bucketID)
}

// Has reports whether a contact key is an active member.
func (a Access) Has(ctx context.Context, bucketID, userKey string) (bool, error) {
	return store.IsMember(ctx, a.DB, bucketID, userKey)
}

// Members pages active members in membership-id order (opaque, not chronological) from cursor
// ("" = the start); limit defaults to 50 and is capped at 100.
func (a Access) Members(ctx context.Context, bucketID string, limit int, cursor string) (MembersPage, error) {
	if limit <= 0 {
		limit = DefaultMembersPage
	}
	limit = min(limit, MaxMembersPage)
	rows, err := store.MembersAfter(ctx, a.DB, bucketID, cursor, limit+1)
	if err != nil {
		return MembersPage{}, err
	}
	count, err := a.Count(ctx, bucketID)
	if err != nil {
		return MembersPage{}, err
	}
	page := MembersPage{Count: count, Data: []Member{}}
	for i, m := range rows {
		if i == limit {
			last := page.Data[limit-1].ID
			page.Cursor = &last
			break
		}
		page.Data = append(page.Data, Member{ID: m.ID, UserID: m.UserID, UserEmail: m.UserEmail,
			EnteredAt: journey.Timestamp(m.EnteredAt), EntryCount: m.EntryCount})
	}
	return page, nil
}
