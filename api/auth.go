package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/apikeys"
)

const identityKey = "hogsend.identity"

// Public marks a route that needs no key.
const Public apikeys.Scope = ""

// requireScope authenticates the bearer key and checks it holds scope.
func (s *Server) requireScope(scope apikeys.Scope) gin.HandlerFunc {
	return s.wrap(func(c *gin.Context) error {
		id, err := s.authenticate(c)
		if err != nil {
			return err
		}
		if !apikeys.HasScope(id.Scopes, scope) {
			return errForbidden
		}
		c.Set(identityKey, id)
		c.Next()
		return nil
	})
}

// authenticate reads `Authorization: Bearer <token>` (case-sensitive scheme, one space). A
// client IP that failed too often is refused before its token is looked at.
func (s *Server) authenticate(c *gin.Context) (apikeys.Identity, error) {
	if s.authFailures != nil {
		if spent, retry := s.authFailures.spent(c.ClientIP()); spent {
			return apikeys.Identity{}, tooMany(retry)
		}
	}
	id, err := s.lookUpKey(c)
	var h *HTTPError
	if s.authFailures != nil && errors.As(err, &h) && h.Status == http.StatusUnauthorized {
		s.authFailures.take(c.ClientIP())
	}
	return id, err
}

func (s *Server) lookUpKey(c *gin.Context) (apikeys.Identity, error) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || token == "" {
		return apikeys.Identity{}, errUnauthorized
	}
	id, err := s.cfg.Keys.Authenticate(c.Request.Context(), token)
	switch {
	case errors.Is(err, apikeys.ErrUnauthorized):
		return apikeys.Identity{}, errUnauthorized
	case errors.Is(err, apikeys.ErrExpired):
		return apikeys.Identity{}, &HTTPError{Status: http.StatusUnauthorized, Message: "API key expired"}
	case err != nil:
		return apikeys.Identity{}, err
	}
	return id, nil
}

// identity is the caller of an authenticated route.
func identity(c *gin.Context) apikeys.Identity {
	id, _ := c.Get(identityKey)
	ident, _ := id.(apikeys.Identity)
	return ident
}

// guardedPrefixes are authenticated before route matching (as the reference does), so an
// unknown path under them answers 401 to a caller without a valid key, and 404 otherwise.
var guardedPrefixes = []string{"/v1/admin", "/v1/contacts", "/v1/events", "/v1/emails", "/v1/lists", "/v1/campaigns"}

func (s *Server) notFound(c *gin.Context) error {
	p := c.Request.URL.Path
	for _, prefix := range guardedPrefixes {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			if _, err := s.authenticate(c); err != nil {
				return err
			}
			break
		}
	}
	return errNotFound
}
