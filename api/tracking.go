package api

import (
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/store"
)

// pixel is the 42-byte transparent 1×1 GIF89a the open pixel serves.
var pixel, _ = base64.StdEncoding.DecodeString("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

type trackingHandlers struct {
	m         *mailer.Mailer
	publicURL string
}

// open is GET /v1/t/o/:id: stamp the first open (with its follow-ups) and answer the pixel.
func (h *trackingHandlers) open(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if _, err := h.m.RecordOpen(c.Request.Context(), id); err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store, no-cache, must-revalidate")
	c.Header("Pragma", "no-cache")
	c.Header("Expires", "0")
	c.Data(http.StatusOK, "image/gif", pixel)
	return nil
}

// click is GET /v1/t/c/:id: record the click and redirect to the stored URL (never anywhere a
// request names, so there is no open redirect).
func (h *trackingHandlers) click(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	click, err := h.m.RecordClick(c.Request.Context(), id, clientIP(c), optionalHeader(c.Request, "User-Agent"))
	if errors.Is(err, store.ErrNotFound) {
		c.Redirect(http.StatusFound, h.publicURL)
		return nil
	}
	if err != nil {
		return err
	}
	c.Redirect(http.StatusFound, click.URL)
	return nil
}

// clientIP is the client's address: X-Forwarded-For's only from a trusted proxy.
func clientIP(c *gin.Context) *string {
	if ip := c.ClientIP(); ip != "" {
		return &ip
	}
	return nil
}

func optionalHeader(r *http.Request, name string) *string {
	if v := r.Header.Get(name); v != "" {
		return &v
	}
	return nil
}
