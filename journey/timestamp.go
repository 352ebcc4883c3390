package journey

import "time"

// Timestamp renders a time the way the engine shows every time, in the HTTP API, in webhooks
// and in the string fields of this package (Waiting.WakeAt, SendEmailResult.SentAt, …):
// RFC 3339 in UTC with milliseconds, "2026-01-02T15:04:05.000Z".
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
