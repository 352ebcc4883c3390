package journey

// Durable names shared by the runner, ingest and operators (`temporal workflow query --type
// journey.state`). They are part of every recorded history: never rename them.
const (
	// SignalExit ends a run as exited: payload ExitSignal.
	SignalExit = "journey.exit"
	// SignalEvent wakes a run blocked in WaitForEvent: payload EventSignal.
	SignalEvent = "journey.event"
	// QueryState answers the run's current step: RunState.
	QueryState = "journey.state"

	// Search attributes (Keyword) on every run, for the Web UI and `temporal workflow list`.
	SearchAttrJourneyID = "HogsendJourneyId"
	SearchAttrContactID = "HogsendContactId"
	SearchAttrStatus    = "HogsendStatus"
)

// Run statuses (journey_states.status).
const (
	StatusActive    = "active"
	StatusWaiting   = "waiting"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusExited    = "exited"
)

// Exit reasons.
const (
	ExitOnEvent       = "exit_on"
	ExitAdminCancel   = "admin_cancel"
	ExitWorkflowEnded = "workflow_cancelled"
)

// ExitSignal is the payload of SignalExit. StateID names the run it is meant for: a late signal
// must not end a later run that reuses the workflow id.
type ExitSignal struct {
	StateID string `json:"stateId"`
	Reason  string `json:"reason"`
	Event   string `json:"event,omitempty"`
}

// EventSignal is the payload of SignalEvent; the run accepts it only for its current wait.
type EventSignal struct {
	StateID    string `json:"stateId"`
	Event      string `json:"event"`
	WaitToken  string `json:"waitToken"`
	EventID    string `json:"eventId"`
	OccurredAt string `json:"occurredAt"`
}

// Waiting describes a run's current wait.
type Waiting struct {
	Kind   string `json:"kind"` // sleep | sleep_until | wait_for_event
	Label  string `json:"label"`
	Event  string `json:"event,omitempty"`
	WakeAt string `json:"wakeAt"`
}

// RunState is the answer of QueryState.
type RunState struct {
	JourneyID     string   `json:"journeyId"`
	UserID        string   `json:"userId"`
	StateID       string   `json:"stateId"`
	Status        string   `json:"status"`
	CurrentNodeID string   `json:"currentNodeId"`
	Waiting       *Waiting `json:"waiting"`
}
