package api

import "time"

// jsonTime renders timestamps as the API does everywhere: UTC, milliseconds, Z.
func jsonTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// jsonTimePtr renders an optional timestamp, nil as null.
func jsonTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := jsonTime(*t)
	return &s
}
