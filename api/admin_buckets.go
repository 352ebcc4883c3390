package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/internal/buckets"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

type adminBucketHandlers struct {
	svc *buckets.Admin
}

var errBucketNotFound = &HTTPError{Status: http.StatusNotFound, Message: "Bucket not found"}

func bucketError(err error) error {
	if errors.Is(err, buckets.ErrNotFound) {
		return errBucketNotFound
	}
	return err
}

func bucketJSON(s buckets.Summary) gin.H {
	b := s.Bucket
	out := gin.H{"id": b.ID, "name": b.Name, "enabled": s.Enabled, "kind": b.Kind, "timeBased": b.TimeBased,
		"entryLimit": b.EntryLimit, "counts": s.Counts}
	if b.Description != "" {
		out["description"] = b.Description
	}
	return out
}

func memberJSON(m store.MemberRow) gin.H {
	ctx := m.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	return gin.H{"id": m.ID, "userId": m.UserID, "userEmail": m.UserEmail, "bucketId": m.BucketID, "status": m.Status,
		"enteredAt": journey.Timestamp(m.EnteredAt), "leftAt": ptr.Map(m.LeftAt, journey.Timestamp),
		"expiresAt": ptr.Map(m.ExpiresAt, journey.Timestamp), "lastEvaluatedAt": ptr.Map(m.LastEvaluatedAt, journey.Timestamp),
		"entryCount": m.EntryCount, "source": m.Source, "context": ctx,
		"createdAt": journey.Timestamp(m.CreatedAt), "updatedAt": journey.Timestamp(m.UpdatedAt)}
}

func membersJSON(list []store.MemberRow) []gin.H {
	out := make([]gin.H, len(list))
	for i, m := range list {
		out[i] = memberJSON(m)
	}
	return out
}

// list is GET /v1/admin/buckets: registered buckets in registry order, paged in memory.
func (h *adminBucketHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	var enabled *bool
	if _, ok := c.GetQuery("enabled"); ok {
		b := boolQuery(c, "enabled", v)
		enabled = &b
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	all, err := h.svc.Buckets(c, enabled)
	if err != nil {
		return err
	}
	out := []gin.H{}
	for i := p.Offset; i < len(all) && i < p.Offset+p.Limit; i++ {
		out = append(out, bucketJSON(all[i]))
	}
	c.JSON(http.StatusOK, gin.H{"buckets": out, "total": len(all), "limit": p.Limit, "offset": p.Offset})
	return nil
}

// get is GET /v1/admin/buckets/:id: the summary with the criteria as built, the optional
// durations that are set, the journeys it feeds and its ten newest members.
func (h *adminBucketHandlers) get(c *gin.Context) error {
	s, recent, err := h.svc.Bucket(c, c.Param("id"))
	if err != nil {
		return bucketError(err)
	}
	b := s.Bucket
	out := bucketJSON(s)
	out["criteria"] = b.Criteria
	for key, d := range map[string]bucket.Duration{"entryPeriod": b.EntryPeriod, "minDwell": b.MinDwell, "maxDwell": b.MaxDwell,
		"reconcileEvery": b.ReconcileEvery} {
		if !d.IsZero() {
			out[key] = d
		}
	}
	out["fastExpiry"] = b.FastExpiry
	out["syncToPostHog"] = false
	feeds := []gin.H{}
	for _, f := range h.svc.Feeds(b) {
		feeds = append(feeds, gin.H{"id": f.ID, "name": f.Name, "trigger": f.Trigger, "sourceBucketId": f.SourceBucketID, "owned": f.Owned})
	}
	out["feedsJourneys"] = feeds
	out["recentMembers"] = membersJSON(recent)
	c.JSON(http.StatusOK, gin.H{"bucket": out})
	return nil
}

// setEnabled is PATCH /v1/admin/buckets/:id {"enabled": bool}.
func (h *adminBucketHandlers) setEnabled(c *gin.Context) error {
	var body switchBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Enabled == nil {
		return Invalid("enabled", "invalid_type", "Required")
	}
	b, at, err := h.svc.SetEnabled(c, c.Param("id"), *body.Enabled)
	if err != nil {
		return bucketError(err)
	}
	c.JSON(http.StatusOK, gin.H{"bucket": gin.H{"id": b.ID, "name": b.Name, "enabled": *body.Enabled, "updatedAt": journey.Timestamp(at)}})
	return nil
}

// members is GET /v1/admin/buckets/:id/members.
func (h *adminBucketHandlers) members(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	f := store.MemberFilter{BucketID: c.Param("id"), Status: c.DefaultQuery("status", "active"), UserID: c.Query("userId")}
	if f.Status != "active" && f.Status != "left" {
		v.Add("status", "invalid_enum_value", "must be one of active, left")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := h.svc.Members(c, f, p.Limit, p.Offset)
	if err != nil {
		return bucketError(err)
	}
	c.JSON(http.StatusOK, gin.H{"members": membersJSON(list), "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}
