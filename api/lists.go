package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/ptr"
)

// listHandlers serve the list catalog and list membership: lists are code, membership is a
// category flag on the recipient's preference row.
type listHandlers struct {
	lists *email.Lists
	svc   contactService
}

// catalogList is a list as GET /v1/lists shows it (no enabled flag: only enabled lists appear).
type catalogList struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	DefaultOptIn bool   `json:"defaultOptIn"`
}

type catalogReply struct {
	Lists []catalogList `json:"lists"`
}

// memberReply is a subscribe or unsubscribe's answer.
type memberReply struct {
	List       string `json:"list"`
	Subscribed bool   `json:"subscribed"`
}

func (h *listHandlers) catalog(c *gin.Context) error {
	out := []catalogList{}
	for _, l := range h.lists.Enabled() {
		out = append(out, catalogList{ID: l.ID, Name: l.Name, Description: l.Description, DefaultOptIn: l.DefaultOptIn})
	}
	c.JSON(http.StatusOK, catalogReply{Lists: out})
	return nil
}

type listMemberBody struct {
	Email  *string `json:"email"`
	UserID *string `json:"userId"`
}

func (h *listHandlers) subscribe(c *gin.Context) error   { return h.setMember(c, true) }
func (h *listHandlers) unsubscribe(c *gin.Context) error { return h.setMember(c, false) }

// setMember resolves (or creates) the contact, then flips the list's flag on its preference
// row. A disabled list is hidden from the catalog but still addressable.
func (h *listHandlers) setMember(c *gin.Context, subscribed bool) error {
	id := c.Param("id")
	if _, ok := h.lists.Get(id); !ok {
		return &HTTPError{Status: http.StatusNotFound, Message: "Unknown list: " + id}
	}
	var body listMemberBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	address, userID := strings.TrimSpace(ptr.Deref(body.Email)), strings.TrimSpace(ptr.Deref(body.UserID))
	if address == "" && userID == "" {
		return errIdentityRequired
	}
	if _, err := h.svc.Upsert(c, contacts.Identity{UserID: userID, Email: address}); err != nil {
		return ingestError(err)
	}
	if err := h.svc.SetLists(c, userID, address, map[string]bool{id: subscribed}); err != nil {
		return ingestError(err)
	}
	c.JSON(http.StatusOK, memberReply{List: id, Subscribed: subscribed})
	return nil
}
