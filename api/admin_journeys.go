package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// journeyAdminService is what the journey admin routes need.
type journeyAdminService interface {
	Journeys(ctx context.Context, enabled *bool) ([]journeys.Summary, error)
	Journey(ctx context.Context, id string) (journeys.Summary, []store.JourneyState, error)
	SetEnabled(ctx context.Context, id string, enabled bool) (*journey.Journey, time.Time, error)
	States(ctx context.Context, f store.JourneyStateFilter, limit, offset int) ([]store.JourneyState, int, error)
	State(ctx context.Context, journeyID, stateID string) (store.JourneyState, []store.JourneyLog, error)
	Cancel(ctx context.Context, journeyID, stateID string) (store.JourneyState, bool, error)
	Enroll(ctx context.Context, journeyID string, u journeys.EnrollUser) (string, error)
	EnrollBatch(ctx context.Context, journeyID string, users []journeys.EnrollUser) ([]journeys.EnrollResult, error)
}

type adminJourneyHandlers struct {
	svc journeyAdminService
}

var (
	errJourneyNotFound  = &HTTPError{Status: http.StatusNotFound, Message: "Journey not found"}
	errStateNotFound    = &HTTPError{Status: http.StatusNotFound, Message: "State not found"}
	errLogStateNotFound = &HTTPError{Status: http.StatusNotFound, Message: "Journey state not found"}
)

func journeyError(err error) error {
	var ended *journeys.StateEndedError
	switch {
	case errors.Is(err, journeys.ErrJourneyNotFound):
		return errJourneyNotFound
	case errors.Is(err, journeys.ErrStateNotFound):
		return errStateNotFound
	case errors.As(err, &ended):
		return &HTTPError{Status: http.StatusConflict, Message: ended.Error()}
	}
	return ingestError(err)
}

// stateJSON is the state shape every route shares (spec journeys §8.4).
func stateJSON(s store.JourneyState) gin.H {
	ctx := s.Context
	if ctx == nil {
		ctx = map[string]any{}
	}
	return gin.H{"id": s.ID, "organizationId": nil, "userId": s.UserID, "userEmail": s.UserEmail, "journeyId": s.JourneyID,
		"currentNodeId": s.CurrentNodeID, "status": s.Status, "hatchetRunId": s.RunID, "workflowId": s.WorkflowID,
		"context": ctx, "errorMessage": s.ErrorMessage, "entryCount": s.EntryCount,
		"completedAt": ptr.Map(s.CompletedAt, journey.Timestamp), "exitedAt": ptr.Map(s.ExitedAt, journey.Timestamp), "deletedAt": nil,
		"createdAt": journey.Timestamp(s.CreatedAt), "updatedAt": journey.Timestamp(s.UpdatedAt)}
}

func statesJSON(list []store.JourneyState) []gin.H {
	out := make([]gin.H, len(list))
	for i, s := range list {
		out[i] = stateJSON(s)
	}
	return out
}

func logsJSON(list []store.JourneyLog) []gin.H {
	out := make([]gin.H, len(list))
	for i, l := range list {
		var detail any
		if l.Detail != nil {
			detail = l.Detail
		}
		out[i] = gin.H{"id": l.ID, "fromNodeId": l.FromNode, "toNodeId": l.ToNode, "action": l.Action, "detail": detail,
			"createdAt": journey.Timestamp(l.CreatedAt)}
	}
	return out
}

func journeyJSON(s journeys.Summary) gin.H {
	j := s.Journey
	out := gin.H{"id": j.ID, "name": j.Name, "enabled": s.Enabled, "trigger": gin.H{"event": j.Trigger.Event},
		"entryLimit": j.EntryLimit, "counts": s.Counts}
	if j.Description != "" {
		out["description"] = j.Description
	}
	return out
}

func (h *adminJourneyHandlers) list(c *gin.Context) error {
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
	all, err := h.svc.Journeys(c, enabled)
	if err != nil {
		return err
	}
	out := []gin.H{}
	for i := p.Offset; i < len(all) && i < p.Offset+p.Limit; i++ {
		out = append(out, journeyJSON(all[i]))
	}
	c.JSON(http.StatusOK, gin.H{"journeys": out, "total": len(all), "limit": p.Limit, "offset": p.Offset})
	return nil
}

func (h *adminJourneyHandlers) get(c *gin.Context) error {
	sum, recent, err := h.svc.Journey(c, c.Param("id"))
	if err != nil {
		return journeyError(err)
	}
	out := journeyJSON(sum)
	j := sum.Journey
	if len(j.Trigger.Where) > 0 {
		out["trigger"] = gin.H{"event": j.Trigger.Event, "where": j.Trigger.Where}
	}
	if len(j.ExitOn) > 0 {
		rules := make([]gin.H, len(j.ExitOn))
		for i, r := range j.ExitOn {
			rules[i] = gin.H{"event": r.Event}
			if len(r.Where) > 0 {
				rules[i]["where"] = r.Where
			}
		}
		out["exitOn"] = rules
	}
	if j.Key != "" {
		out["key"] = j.Key
	}
	out["suppress"] = j.Suppress
	out["recentStates"] = statesJSON(recent)
	c.JSON(http.StatusOK, gin.H{"journey": out})
	return nil
}

// switchBody is the admin on/off switch of a journey or a bucket.
type switchBody struct {
	Enabled *bool `json:"enabled"`
}

func (h *adminJourneyHandlers) setEnabled(c *gin.Context) error {
	var body switchBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Enabled == nil {
		return Invalid("enabled", "invalid_type", "Required")
	}
	j, at, err := h.svc.SetEnabled(c, c.Param("id"), *body.Enabled)
	if err != nil {
		return journeyError(err)
	}
	c.JSON(http.StatusOK, gin.H{"journey": gin.H{"id": j.ID, "name": j.Name, "enabled": *body.Enabled, "updatedAt": journey.Timestamp(at)}})
	return nil
}

var journeyStatuses = []string{journey.StatusActive, journey.StatusWaiting, journey.StatusCompleted, journey.StatusFailed, journey.StatusExited}

func (h *adminJourneyHandlers) states(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	f := store.JourneyStateFilter{JourneyID: c.Param("id"), Status: c.Query("status"), UserID: c.Query("userId")}
	if f.Status != "" && !contains(journeyStatuses, f.Status) {
		v.Add("status", "invalid_enum_value", "must be one of active, waiting, completed, failed, exited")
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	list, total, err := h.svc.States(c, f, p.Limit, p.Offset)
	if err != nil {
		return journeyError(err)
	}
	c.JSON(http.StatusOK, gin.H{"states": statesJSON(list), "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// state answers a run with its logs: of the path's journey, or of any journey (journey-logs).
func (h *adminJourneyHandlers) state(c *gin.Context) error {
	id, err := uuidParam(c, "stateId")
	if err != nil {
		return err
	}
	s, logs, err := h.svc.State(c, c.Param("id"), id)
	if errors.Is(err, journeys.ErrStateNotFound) && c.Param("id") == "" {
		return errLogStateNotFound
	}
	if err != nil {
		return journeyError(err)
	}
	c.JSON(http.StatusOK, gin.H{"state": stateJSON(s), "logs": logsJSON(logs)})
	return nil
}

func (h *adminJourneyHandlers) cancel(c *gin.Context) error {
	id, err := uuidParam(c, "stateId")
	if err != nil {
		return err
	}
	s, signalled, err := h.svc.Cancel(c, c.Param("id"), id)
	if err != nil {
		return journeyError(err)
	}
	c.JSON(http.StatusOK, gin.H{"state": gin.H{"id": s.ID, "status": s.Status, "exitedAt": ptr.Map(s.ExitedAt, journey.Timestamp)},
		"hatchetCancelled": signalled, "workflowCancelled": signalled})
	return nil
}

// validEnrollUser checks one enrolment's fields; prefix names it in a batch.
func validEnrollUser(v *ValidationError, prefix string, u journeys.EnrollUser) {
	if u.UserID == "" {
		v.Add(prefix+"userId", "too_small", "must be at least 1 character")
	}
	if !emailPattern.MatchString(u.UserEmail) {
		v.Add(prefix+"userEmail", "invalid_string", "must be a valid email address")
	}
}

func (h *adminJourneyHandlers) enroll(c *gin.Context) error {
	var body journeys.EnrollUser
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	v := &ValidationError{}
	validEnrollUser(v, "", body)
	if err := v.OrNil(); err != nil {
		return err
	}
	event, err := h.svc.Enroll(c, c.Param("id"), body)
	if err != nil {
		return journeyError(err)
	}
	c.JSON(http.StatusAccepted, gin.H{"enrolled": true, "event": event, "userId": body.UserID})
	return nil
}

// maxBatchEnroll bounds a batch enrolment.
const maxBatchEnroll = 500

type enrollBatchBody struct {
	Users []journeys.EnrollUser `json:"users"`
}

func (h *adminJourneyHandlers) enrollBatch(c *gin.Context) error {
	var body enrollBatchBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	v := &ValidationError{}
	if len(body.Users) < 1 || len(body.Users) > maxBatchEnroll {
		v.Add("users", "too_big", "must hold 1 to %d users", maxBatchEnroll)
	}
	for i, u := range body.Users {
		validEnrollUser(v, fmt.Sprintf("users.%d.", i), u)
	}
	if err := v.OrNil(); err != nil {
		return err
	}
	results, err := h.svc.EnrollBatch(c, c.Param("id"), body.Users)
	if err != nil {
		return journeyError(err)
	}
	enrolled := 0
	for _, r := range results {
		if r.Enrolled {
			enrolled++
		}
	}
	c.JSON(http.StatusOK, gin.H{"enrolled": enrolled, "skipped": len(results) - enrolled, "results": results})
	return nil
}
