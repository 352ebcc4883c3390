package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// Page is the limit/offset of a paginated admin list.
type Page struct {
	Limit  int `json:"limit"`
	Offset int `json:"offset"`
}

// page reads limit (1..100, default 50) and offset (≥ 0, default 0); out of range is a 400.
func page(c *gin.Context, v *ValidationError) Page {
	return Page{Limit: intQuery(c, "limit", 50, 1, 100, v), Offset: intQuery(c, "offset", 0, 0, math.MaxInt32, v)}
}

// intQuery reads an optional integer query parameter in [lo, hi].
func intQuery(c *gin.Context, name string, def, lo, hi int, v *ValidationError) int {
	raw, ok := c.GetQuery(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(raw)
	switch {
	case err == nil && n >= lo && n <= hi:
		return n
	case hi == math.MaxInt32:
		v.Add(name, "too_small", "must be an integer ≥ %d", lo)
	default:
		v.Add(name, "too_big", "must be an integer from %d to %d", lo, hi)
	}
	return def
}

// boolQuery reads an optional "true"/"false" query flag.
func boolQuery(c *gin.Context, name string, v *ValidationError) bool {
	switch raw, _ := c.GetQuery(name); raw {
	case "", "false":
		return false
	case "true":
		return true
	default:
		v.Add(name, "invalid_enum_value", `must be "true" or "false"`)
		return false
	}
}

// uuidParam reads a path parameter that must be a UUID.
func uuidParam(c *gin.Context, name string) (string, error) {
	raw := c.Param(name)
	if _, err := uuid.Parse(raw); err != nil || len(raw) != 36 {
		return "", Invalid(name, "invalid_string", "must be a UUID")
	}
	return raw, nil
}

// maxBody bounds JSON request bodies (imports allow maxImportBody).
const (
	maxBody       = 1 << 20
	maxImportBody = 50 << 20
)

// bindJSON decodes a JSON object body of at most 1 MiB into dst; malformed JSON or a wrongly
// typed field is a 400 naming the field, a larger body a 413.
func bindJSON(c *gin.Context, dst any) error { return bindJSONMax(c, dst, maxBody) }

// bindJSONMax is bindJSON with another size limit.
func bindJSONMax(c *gin.Context, dst any, limit int64) error {
	dec := json.NewDecoder(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var maxErr *http.MaxBytesError
		switch {
		case errors.As(err, &typeErr):
			field := typeErr.Field
			if field == "" {
				field = "body"
			}
			return Invalid(field, "invalid_type", "expected %s, received %s", typeErr.Type.Kind(), typeErr.Value)
		case errors.As(err, &maxErr):
			return &HTTPError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("Request body exceeds %d bytes", limit)}
		case errors.Is(err, io.EOF):
			return Invalid("body", "invalid_type", "expected a JSON object, received nothing")
		default:
			return Invalid("body", "invalid_json", "malformed JSON: %v", err)
		}
	}
	if dec.More() {
		return Invalid("body", "invalid_json", "unexpected data after the JSON object")
	}
	return nil
}

// readBody reads a raw body of at most limit bytes (413 beyond it).
func readBody(c *gin.Context, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	var maxErr *http.MaxBytesError
	if errors.As(err, &maxErr) {
		return nil, &HTTPError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("Request body exceeds %d bytes", limit)}
	}
	return b, err
}
