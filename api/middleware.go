package api

import (
	"context"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// securityHeaders are set on every response.
var securityHeaders = [][2]string{
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "SAMEORIGIN"},
	{"Referrer-Policy", "no-referrer"},
	{"Strict-Transport-Security", "max-age=15552000; includeSubDomains"},
	{"X-DNS-Prefetch-Control", "off"},
	{"X-Download-Options", "noopen"},
	{"X-Permitted-Cross-Domain-Policies", "none"},
	{"X-XSS-Protection", "0"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cross-Origin-Resource-Policy", "same-origin"},
	{"Origin-Agent-Cluster", "?1"},
}

func secure(c *gin.Context) {
	h := c.Writer.Header()
	for _, kv := range securityHeaders {
		h.Set(kv[0], kv[1])
	}
	h.Del("X-Powered-By")
	c.Next()
}

// cors is permissive (any origin, no credentials) except for trusted origins, which are echoed
// with credentials allowed so a remotely served admin UI can call the API.
func (s *Server) cors(c *gin.Context) {
	h := c.Writer.Header()
	origin := c.GetHeader("Origin")
	if origin != "" && slices.Contains(s.cfg.TrustedOrigins, strings.TrimRight(origin, "/")) {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if c.Request.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,POST,DELETE,PATCH")
		if req := c.GetHeader("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
			h.Add("Vary", "Access-Control-Request-Headers")
		}
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}

// RequestTimeout is the deadline of every handler's context.
const RequestTimeout = 30 * time.Second

// deadline bounds the whole request through its context (streams keep working, unlike a
// buffering timeout handler).
func deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), RequestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_=-]{1,255}$`)

const requestIDKey = "hogsend.requestId"

// requestIDs reuses a well-formed incoming X-Request-Id or makes one.
func requestIDs(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !requestIDPattern.MatchString(id) {
		id = uuid.NewString()
	}
	c.Set(requestIDKey, id)
	c.Writer.Header().Set("X-Request-Id", id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(requestIDKey) }

// LevelHTTP is the level of per-request log lines (between info and debug).
const LevelHTTP = slog.Level(-2)

func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.log.Log(c.Request.Context(), LevelHTTP, "request",
		"method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(),
		"duration", float64(time.Since(start).Microseconds())/1000, "requestId", requestID(c))
}
