package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/activities/apikeys"
)

// Route is one row of the route table: what a request needs and who serves it.
type Route struct {
	Method  string
	Path    string
	Scope   apikeys.Scope // Public, Ingest, or a rung of the admin ladder
	Summary string
	handler handler
}

// Routes is the single route table. Every route is mounted from here, and the scope test walks
// it, so a route cannot be added without a tested minimum scope.
func (s *Server) Routes() []Route {
	h := &healthHandlers{s: s}
	k := &apiKeyHandlers{keys: s.cfg.Keys}
	c := &contactHandlers{svc: s.cfg.Ingest}
	ev := &eventHandlers{svc: s.cfg.Ingest}
	return []Route{
		{http.MethodGet, "/v1/health", Public, "Component and schema health (always 200)", h.health},
		{http.MethodGet, "/v1/health/live", Public, "Process liveness", h.live},
		{http.MethodGet, "/v1/health/ready", Public, "200 when the database is up and the schema in sync, else 503", h.ready},

		{http.MethodPut, "/v1/contacts", apikeys.Ingest, "Create or update a contact by email or userId", c.upsert},
		{http.MethodGet, "/v1/contacts/find", apikeys.Ingest, "Find contacts by email or userId", c.find},
		{http.MethodDelete, "/v1/contacts", apikeys.Ingest, "Delete contacts by email or userId", c.delete},
		{http.MethodPost, "/v1/events", apikeys.Ingest, "Ingest an event", ev.ingest},

		{http.MethodGet, "/v1/admin/api-keys", apikeys.Read, "List API keys", k.list},
		{http.MethodPost, "/v1/admin/api-keys", apikeys.FullAdmin, "Create an API key (shown once)", k.create},
		{http.MethodDelete, "/v1/admin/api-keys/:id", apikeys.FullAdmin, "Revoke an API key", k.revoke},
		{http.MethodPost, "/v1/admin/api-keys/:id/rotate", apikeys.FullAdmin, "Replace an API key with a new one", k.rotate},
	}
}

func (s *Server) mount(e *gin.Engine) {
	for _, r := range s.Routes() {
		chain := []gin.HandlerFunc{}
		if r.Scope != Public {
			chain = append(chain, s.requireScope(r.Scope))
		}
		chain = append(chain, s.wrap(r.handler))
		e.Handle(r.Method, r.Path, chain...)
	}
}
