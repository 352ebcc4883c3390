package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

const adminPrefix = "/v1/admin/"

// audited are the methods whose successful admin requests are recorded.
func audited(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// auditTarget derives the audit resource, its id and the action from an admin path, as the
// reference does: the first segment after /v1/admin/ and the second (so a nested id is lost).
func auditTarget(method, path string) (resource string, id *string, action string) {
	var segs []string
	for _, s := range strings.Split(strings.TrimPrefix(path, adminPrefix), "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	resource = "unknown"
	if len(segs) > 0 {
		resource = segs[0]
	}
	if len(segs) > 1 {
		id = &segs[1]
	}
	return resource, id, resource + "." + strings.ToLower(method)
}

// audit records a successful admin mutation after its handler, synchronously, so the caller's
// next read sees it; a failed write is logged and never changes the response.
func (s *Server) audit(c *gin.Context) {
	c.Next()
	if c.Writer.Status() >= 400 {
		return
	}
	who := identity(c)
	resource, id, action := auditTarget(c.Request.Method, c.Request.URL.Path)
	ip := ptr.NonZero(c.GetHeader("X-Forwarded-For"))
	if ip == nil {
		ip = ptr.NonZero(c.GetHeader("X-Real-IP"))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), 2*time.Second)
	defer cancel()
	err := store.InsertAudit(ctx, s.cfg.DB, store.AuditEntry{Actor: who.Name, ActorKeyID: ptr.NonZero(who.KeyID),
		Action: action, Resource: resource, ResourceID: id, IPAddress: ip,
		Detail: map[string]any{"path": c.Request.URL.Path, "status": c.Writer.Status(), "requestId": requestID(c)}})
	if err != nil {
		s.log.Warn("Audit log write failed", "error", err.Error(), "action", action)
	}
}

type auditJSON struct {
	ID         string         `json:"id"`
	Actor      string         `json:"actor"`
	ActorKeyID *string        `json:"actorKeyId"`
	Action     string         `json:"action"`
	Resource   string         `json:"resource"`
	ResourceID *string        `json:"resourceId"`
	Detail     map[string]any `json:"detail"`
	IPAddress  *string        `json:"ipAddress"`
	CreatedAt  string         `json:"createdAt"`
}

// auditLogs is GET /v1/admin/audit-logs.
func (s *Server) auditLogs(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	f := store.AuditFilter{Actor: c.Query("actor"), Resource: c.Query("resource"), Action: c.Query("action"),
		From: timeQuery(c, "from", v), To: timeQuery(c, "to", v)}
	if err := v.OrNil(); err != nil {
		return err
	}
	rows, total, err := store.ListAudit(c, s.cfg.DB, f, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	logs := make([]auditJSON, len(rows))
	for i, r := range rows {
		logs[i] = auditJSON{ID: r.ID, Actor: r.Actor, ActorKeyID: r.ActorKeyID, Action: r.Action, Resource: r.Resource,
			ResourceID: r.ResourceID, Detail: r.Detail, IPAddress: r.IPAddress, CreatedAt: journey.Timestamp(r.CreatedAt)}
	}
	c.JSON(http.StatusOK, gin.H{"logs": logs, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}
