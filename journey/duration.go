package journey

import "github.com/hogsend/hogsend/condition"

// Duration is the condition language's window ({"hours": 720} for 30 days), shared so journeys
// and buckets speak the same units.
type Duration = condition.Duration

// Duration helpers.
var (
	Days    = condition.Days
	Hours   = condition.Hours
	Minutes = condition.Minutes
	Seconds = condition.Seconds
)

// Ever is the zero Duration: no window (Context.Seen looks at the whole history).
var Ever Duration
