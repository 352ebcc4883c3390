package email

// ProviderEvent is a delivery-status event from a provider (Resend's webhook envelope; other
// providers are mapped onto it).
type ProviderEvent struct {
	Type      string            `json:"type"`
	CreatedAt string            `json:"created_at"`
	Data      ProviderEventData `json:"data"`
}

// ProviderEventData is the message an event is about.
type ProviderEventData struct {
	EmailID   string          `json:"email_id"`
	From      string          `json:"from"`
	To        []string        `json:"to"`
	Subject   string          `json:"subject"`
	CreatedAt string          `json:"created_at"`
	Bounce    *ProviderBounce `json:"bounce,omitempty"`
	Click     *ProviderClick  `json:"click,omitempty"`
}

// ProviderBounce classifies a bounce as the provider reported it.
type ProviderBounce struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	SubType string `json:"subType,omitempty"`
}

// ProviderClick is a click the provider tracked.
type ProviderClick struct {
	Link      string `json:"link"`
	Timestamp string `json:"timestamp"`
	IPAddress string `json:"ipAddress"`
	UserAgent string `json:"userAgent"`
}

// Provider event types.
const (
	EventSent            = "email.sent"
	EventDelivered       = "email.delivered"
	EventDeliveryDelayed = "email.delivery_delayed"
	EventOpened          = "email.opened"
	EventClicked         = "email.clicked"
	EventBounced         = "email.bounced"
	EventComplained      = "email.complained"
)
