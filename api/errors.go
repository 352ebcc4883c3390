package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// HTTPError is an error with the status and message the client should see.
type HTTPError struct {
	Status  int
	Message string
	// RetryAfter, when set, is sent as Retry-After (whole seconds, at least 1).
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string { return e.Message }

// Errorf builds an HTTPError.
func Errorf(status int, format string, args ...any) error {
	return &HTTPError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Issue is one problem with a request, in the shape validators report them.
type Issue struct {
	Path    []string `json:"path"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

// ValidationError is a 400 listing every problem found in a request.
type ValidationError struct {
	Issues []Issue
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		parts[i] = strings.Join(is.Path, ".") + ": " + is.Message
	}
	return "Invalid request: " + strings.Join(parts, "; ")
}

// Invalid is a ValidationError with one issue.
func Invalid(field, code, format string, args ...any) *ValidationError {
	return &ValidationError{Issues: []Issue{{Path: []string{field}, Message: fmt.Sprintf(format, args...), Code: code}}}
}

// Add appends an issue.
func (e *ValidationError) Add(field, code, format string, args ...any) {
	e.Issues = append(e.Issues, Issue{Path: []string{field}, Message: fmt.Sprintf(format, args...), Code: code})
}

// OrNil returns e when it holds issues, else nil (so callers can `return v.OrNil()`).
func (e *ValidationError) OrNil() error {
	if e == nil || len(e.Issues) == 0 {
		return nil
	}
	return e
}

// Standard messages.
var (
	errUnauthorized = &HTTPError{Status: http.StatusUnauthorized, Message: "Unauthorized"}
	errForbidden    = &HTTPError{Status: http.StatusForbidden, Message: "Forbidden: insufficient scope"}
	errNotFound     = &HTTPError{Status: http.StatusNotFound, Message: "Not Found"}
)

// handler is how every route is written: return an error, and render renders it.
type handler func(c *gin.Context) error

// wrap adapts a handler to gin, sending every error through the one renderer.
func (s *Server) wrap(h handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.renderError(c, err)
		}
	}
}

// renderError is the only place an error becomes a response.
func (s *Server) renderError(c *gin.Context, err error) {
	var he *HTTPError
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		issues := ve.Issues
		if issues == nil {
			issues = []Issue{}
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"success": false, "error": ve.Error(), "issues": issues})
	case errors.As(err, &he):
		if he.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(he.RetryAfter.Seconds())))))
		}
		c.AbortWithStatusJSON(he.Status, gin.H{"error": he.Message})
	default:
		s.log.Error("request failed", "error", err.Error(), "path", c.Request.URL.Path,
			"method", c.Request.Method, "status", http.StatusInternalServerError, "requestId", requestID(c))
		c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "Internal Server Error"})
	}
}

// recovery turns a panic into a logged 500 without leaking its message.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.Error("panic in handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()),
				"path", c.Request.URL.Path, "method", c.Request.Method, "status", http.StatusInternalServerError)
			if !c.Writer.Written() {
				c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": "Internal Server Error"})
			}
		}
	}()
	c.Next()
}
