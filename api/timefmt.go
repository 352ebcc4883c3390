package api

import (
	"time"

	"github.com/hogsend/hogsend/internal/ingest"
)

// jsonTime renders timestamps as the API does everywhere: UTC, milliseconds, Z.
func jsonTime(t time.Time) string { return ingest.Timestamp(t) }

// jsonTimePtr renders an optional timestamp, nil as null.
func jsonTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := jsonTime(*t)
	return &s
}
