// Package contract is what workflows and activities agree on: the registered activity names,
// their input and result types, and the application error types a workflow's retry policy
// names. It imports no database or network code, so workflow code can depend on it without
// linking either (River's rivertype idea).
package contract

import "time"

// Registered activity names. They are durable: a renamed activity breaks running workflows.
const (
	PingDatabaseName = "hogsend-ping-database"

	// The journey runner calls these as local activities: each is one marker event in the
	// run's history.
	JourneyTransitionName = "hogsend-journey-transition"
	JourneySendName       = "hogsend-journey-send"
	JourneyTriggerName    = "hogsend-journey-trigger"
	JourneyLookupName     = "hogsend-journey-lookup"

	// SweepStalledStartsName is the journey watchdog's one activity.
	SweepStalledStartsName = "hogsend-journey-sweep-stalled-starts"

	// The bucket reconcile sweep: a plan, then bounded batches of each pass.
	PlanReconcileName = "hogsend-bucket-plan-reconcile"
	ReconcilePassName = "hogsend-bucket-reconcile-pass"

	// A bucket backfill: begin, pages of joins (and of leaves when re-evaluating), finish.
	BeginBackfillName     = "hogsend-bucket-backfill-begin"
	BackfillJoinPageName  = "hogsend-bucket-backfill-join-page"
	BackfillLeavePageName = "hogsend-bucket-backfill-leave-page"
	FinishBackfillName    = "hogsend-bucket-backfill-finish"
	FailBackfillName      = "hogsend-bucket-backfill-fail"

	// ExpireMembershipName is the fast-expiry timer's one activity.
	ExpireMembershipName = "hogsend-bucket-expire-membership"

	// A campaign send: begin (or re-read), pages until done or told to stop, complete; and the
	// reaper that re-drives or gives up campaigns that stopped progressing.
	BeginCampaignName    = "hogsend-campaign-begin"
	SendCampaignName     = "hogsend-campaign-send-pages"
	PlanCampaignName     = "hogsend-campaign-plan-waves"
	CompleteCampaignName = "hogsend-campaign-complete"
	ReapCampaignsName    = "hogsend-campaign-reap"

	// An outbound webhook delivery's retries, and the sweeper that re-drives lost ones.
	AttemptWebhookDeliveryName = "hogsend-webhook-attempt"
	SweepWebhookDeliveriesName = "hogsend-webhook-sweep"

	// CheckAlertsName evaluates every enabled alert rule once (the check-alerts workflow).
	CheckAlertsName = "hogsend-alerts-check"

	PrepareImportName = "hogsend-import-prepare"
	ImportBatchName   = "hogsend-import-batch"
	FinishImportName  = "hogsend-import-finish"
)

// Application error types that retry policies name as non-retryable.
const (
	// ErrExitedType is a step refused because the run has ended.
	ErrExitedType = "JourneyExited"
	// ErrTemplateNotFoundType is a journey send of a template the registry does not hold.
	ErrTemplateNotFoundType = "TemplateNotFound"
	// ErrSendPermanentType is a journey send the provider refused for good.
	ErrSendPermanentType = "EmailSendPermanent"
	// ErrCampaignNotFoundType is a campaign that does not exist.
	ErrCampaignNotFoundType = "CampaignNotFound"
)

// SweepResult counts what one watchdog sweep did to stalled enrolments.
type SweepResult struct {
	Redispatched int
	Failed       int
}

// ReconcilePlan is the passes one bucket needs this tick, in the order they run.
type ReconcilePlan struct {
	BucketID string   `json:"bucketId"`
	Passes   []string `json:"passes"`
}

// PassInput asks for one bounded batch of a pass over a bucket, from Cursor.
type PassInput struct {
	BucketID, Pass, Cursor string
}

// PassResult is one batch of a pass: More asks for another call with Cursor.
type PassResult struct {
	Processed int    `json:"processed"`
	Changed   int    `json:"changed"` // joins, leaves or dwell fires
	Cursor    string `json:"cursor,omitempty"`
	More      bool   `json:"more"`
}

// Backfill modes: a bucket seen for the first time gets its existing matchers silently; one
// whose criteria changed also loses, with leave events, the members that no longer match.
const (
	BackfillFirstTime = "first-time"
	BackfillReeval    = "reeval"
)

// BackfillInput is one bucket backfill job: its import_jobs row, the mode (BackfillFirstTime or
// BackfillReeval) and the criteria hash it brings the bucket to.
type BackfillInput struct {
	JobID, BucketID, Mode, Hash string
}

// BackfillPage asks for one page of a backfill, from Cursor.
type BackfillPage struct {
	Job    BackfillInput
	Cursor string
}

// BackfillEnd closes a backfill job: Total and Processed are its counts, Message why it failed.
type BackfillEnd struct {
	Job              BackfillInput
	Total, Processed int
	Message          string
}

// BucketExpiryWorkflow is the workflow type of a membership's fast-expiry timer, started by the
// real-time join under BucketExpiryID.
const BucketExpiryWorkflow = "hogsend-bucket-expiry"

// BucketExpiryID is the workflow id of a membership's timer.
func BucketExpiryID(rowID string) string { return "bucket-expiry:" + rowID }

// Expiry is a fast-expiry timer of one membership: at ArmedExpiresAt the member is checked and
// left if it no longer matches (and the row's deadline was not moved meanwhile).
type Expiry struct {
	RowID, BucketID, UserKey string
	ArmedExpiresAt           time.Time
}

// ExpiryResult says what the timer found: left, still_member, re_armed_or_already_left, or
// bucket_unregistered.
type ExpiryResult struct {
	Outcome string
}

// ReconcileResult sums one reconcile tick.
type ReconcileResult struct {
	Buckets, Changed, Failed int
}

// PingDatabaseResult names the worker that reached the database.
type PingDatabaseResult struct {
	Worker string
}

// ImportBatchSize is how many rows one batch activity imports.
const ImportBatchSize = 500

// ImportJob names a contact-import job. The upload and its parsed rows stay in Postgres.
type ImportJob struct {
	JobID string
}

// PreparedImport says how many rows to import; Failed means the upload could not be parsed
// (the job is already marked failed).
type PreparedImport struct {
	TotalRows int
	Failed    bool
}

// ImportBatchInput names one slice of rows: [Start, Start+ImportBatchSize).
type ImportBatchInput struct {
	JobID string
	Start int
}

// Transition kinds.
const (
	TransitionWait       = "wait"
	TransitionResume     = "resume"
	TransitionCheckpoint = "checkpoint"
	TransitionComplete   = "complete"
	TransitionFail       = "fail"
	TransitionExit       = "exit"
)

// TransitionInput is one state change of a run.
type TransitionInput struct {
	Kind    string
	StateID string
	RunID   string // set on a run's first step: the state records the run executing it
	Step    string // deterministic per run step
	Label   string
	Detail  map[string]any
	// Wait fields.
	Event  string
	Token  string
	WakeAt *time.Time
	// Fail: the error text. Exit: the reason.
	Message string
	// Complete: the outbound journey.completed payload.
	Completed *JourneyCompletedData
}

// JourneyCompletedData is the payload of the outbound journey.completed event.
type JourneyCompletedData struct {
	JourneyID   string `json:"journeyId"`
	JourneyName string `json:"journeyName"`
	StateID     string `json:"stateId"`
	UserID      string `json:"userId"`
	UserEmail   string `json:"userEmail"`
	CompletedAt string `json:"completedAt"`
}

// TransitionResult is false when the run had already ended (the runner then stops as exited).
type TransitionResult struct {
	Applied bool
}

// JourneySend is one journey email handed to the email pipeline.
type JourneySend struct {
	IdempotencyKey string // journey:<stateId>:email:<seq>
	StateID        string
	JourneyID      string
	JourneyName    string
	UserID         string
	To             string
	Template       string
	Subject        string
	Props          map[string]any
}

// SendInput is one journey send.
type SendInput struct {
	Send  JourneySend
	Step  string // log step key
	RunID string // as in TransitionInput
}

// TriggerInput is an event a run ingests.
type TriggerInput struct {
	StateID        string
	RunID          string // as in TransitionInput
	Step           string
	IdempotencyKey string // journey:<stateId>:trigger:<seq>
	Event          string
	UserID         string
	Email          string
	Properties     map[string]any
}

// Lookup kinds.
const (
	LookupSubscribed = "subscribed"
	LookupEvent      = "event"
	LookupJourney    = "journey"
	LookupEmail      = "email"
	LookupBucket     = "bucket"
)

// LookupInput is one history question.
type LookupInput struct {
	Kind      string
	UserID    string
	Event     string
	Since     *time.Time // event lookups: only events at or after
	JourneyID string
	Email     string
	Template  string
	BucketID  string
}

// LookupResult answers it.
type LookupResult struct {
	Count int
	Yes   bool
	Last  *string
}

// SendCampaignWorkflow is the workflow type of a campaign's send; CampaignWorkflowID its id.
const SendCampaignWorkflow = "hogsend-send-campaign"

// CampaignWorkflowID is one run at a time per campaign: "send-campaign:<id>".
func CampaignWorkflowID(campaignID string) string { return "send-campaign:" + campaignID }

// CampaignControlSignal tells a campaign's run that its status was changed from outside
// (paused, resumed, cancelled, given up): it reads the status again.
const CampaignControlSignal = "campaign-control"

// CampaignInput starts or continues a campaign's run. Continued is true on a continued run, whose
// begin must not revive a campaign given up meanwhile.
type CampaignInput struct {
	CampaignID string
	Continued  bool
	// A local-time campaign's delivery waves and the one it is at, carried across
	// continue-as-new.
	Waves []CampaignWave
	Wave  int
}

// CampaignWave is the recipients of a local-time campaign whose zones reach its local time at
// the same instant. The last wave also takes every zone no wave names (Rest: zones that
// appeared after planning).
type CampaignWave struct {
	At    time.Time
	Zones []string // contacts.timezone values as stored ("" = none: the default zone)
	Rest  bool
}

// SendPagesInput is one send activity: the campaign and, for a local-time campaign, its wave.
type SendPagesInput struct {
	CampaignID string
	Wave       *CampaignWave
	WaveIndex  int
	Planned    []string // every zone the waves name (the last wave's Rest excludes them)
}

// PlanWavesInput asks for a local-time campaign's waves from AsOf on.
type PlanWavesInput struct {
	CampaignID string
	AsOf       time.Time
}

// BeginCampaignInput asks for a campaign's state as of the workflow's clock (a scheduled
// campaign whose time has come begins sending); Revive lets a fresh run take up a failed one.
type BeginCampaignInput struct {
	CampaignID string
	AsOf       time.Time
	Revive     bool
}

// CampaignState is a campaign's status as a run sees it.
type CampaignState struct {
	Status      string
	ScheduledAt *time.Time
	LocalTime   string // HH:MM: each recipient at that time in their zone ("" = all at once)
}

// CampaignProgress is what a send activity did: Done when the audience is exhausted; Status
// is the campaign's status at its last page (another than sending means: stop).
type CampaignProgress struct {
	Done   bool
	Status string
	Pages  int
}

// ReapResult counts what one reaper tick did.
type ReapResult struct {
	Failed   int
	Redriven int
}

// DeliverWebhookWorkflow is the workflow type of a delivery's retries; DeliveryWorkflowID its id.
const DeliverWebhookWorkflow = "hogsend-deliver-webhook"

// DeliveryWorkflowID is one run at a time per delivery: "webhook-delivery:<id>".
func DeliveryWorkflowID(deliveryID string) string { return "webhook-delivery:" + deliveryID }

// DeliverWebhookInput names the delivery; its URL and secret stay in Postgres.
type DeliverWebhookInput struct {
	DeliveryID string
}

// DeliveryOutcome is what an attempt did: delivered, pending (due at NextRetryAt), failed,
// discarded or skipped.
type DeliveryOutcome struct {
	Status      string     `json:"status"`
	Reason      string     `json:"reason,omitempty"`
	NextRetryAt *time.Time `json:"nextRetryAt,omitempty"`
	Attempts    int        `json:"attempts"`
}

// WebhookSweepResult is what the webhook sweeper did: deliveries found due or stuck, runs started for them.
type WebhookSweepResult struct {
	Candidates int
	Redriven   int
}

// AlertCheckResult counts one alert check: rules looked at, notifications made (sent or
// failed), rules that could not be evaluated.
type AlertCheckResult struct {
	Evaluated int
	Fired     int
	Errors    int
}
