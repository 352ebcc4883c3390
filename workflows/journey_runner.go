package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/journey"
)

// JourneyInput starts one run. The state row already exists: ingest enrolled the contact (guards,
// entry limit, one live run) in the transaction that stored the trigger event. It holds no
// email address (inputs and histories stay free of it): activities read it from the state row.
type JourneyInput struct {
	StateID      string         `json:"stateId"`
	JourneyID    string         `json:"journeyId"`
	UserID       string         `json:"userId"` // the contact's user key
	ContactID    string         `json:"contactId"`
	Key          string         `json:"key,omitempty"`
	Properties   map[string]any `json:"properties"`
	TriggerEvent string         `json:"triggerEvent"`
	EventID      string         `json:"eventId"`
	TriggeredAt  string         `json:"triggeredAt"`
	// Timezone is the contact's zone, resolved at enrolment; Window the default send window.
	Timezone string              `json:"timezone"`
	Window   *journey.SendWindow `json:"window,omitempty"`
}

// JourneyResult is how a run ended: completed, exited or failed.
type JourneyResult struct {
	StateID string `json:"stateId"`
	Status  string `json:"status"`
	Error   string `json:"error,omitempty"`
}

// Local activity options: state writes and lookups are short and retried; a send has more time
// and fewer attempts, and an ended run is never retried. ScheduleToCloseTimeout bounds the
// retries: left unset it would equal StartToCloseTimeout and cut them off after seconds.
var (
	stepOptions = workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Minute,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 10,
			NonRetryableErrorTypes: []string{contract.ErrExitedType}},
	}
	sendOptions = workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 5 * time.Minute,
		StartToCloseTimeout:    30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 4,
			NonRetryableErrorTypes: []string{contract.ErrExitedType, contract.ErrTemplateNotFoundType, contract.ErrSendPermanentType}},
	}
	// endOptions: the final complete/fail write retries until Postgres answers, so a run never
	// closes while its row stays live.
	endOptions = workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 7 * 24 * time.Hour,
		StartToCloseTimeout:    10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, NonRetryableErrorTypes: []string{contract.ErrExitedType}},
	}
)

// historyWarning is the history length past which a run logs that its journey loops too much.
const historyWarning = 10_000

// JourneyWorkflow is the workflow function of one journey, registered as journey.WorkflowName.
// It runs the journey's code against a Context whose every call is durable, maps the code's
// outcome onto the state row, and answers the journey.state query.
func JourneyWorkflow(j *journey.Journey) func(workflow.Context, JourneyInput) (JourneyResult, error) {
	return func(ctx workflow.Context, in JourneyInput) (JourneyResult, error) {
		r := &run{wctx: workflow.WithLocalActivityOptions(ctx, stepOptions), j: j, in: in,
			node: "start", status: journey.StatusActive,
			exitCh:  workflow.GetSignalChannel(ctx, journey.SignalExit),
			eventCh: workflow.GetSignalChannel(ctx, journey.SignalEvent)}
		return r.execute()
	}
}

// run implements journey.Context for one execution.
type run struct {
	wctx    workflow.Context
	j       *journey.Journey
	in      JourneyInput
	seq     int // numbers the steps, for idempotency keys and log step keys
	node    string
	status  string
	waiting *journey.Waiting
	exited  bool
	exitCh  workflow.ReceiveChannel
	eventCh workflow.ReceiveChannel
	zone    string
	window  *journey.SendWindow
	// attached is set once a step has recorded this run's id on the state.
	attached bool
}

// runID is this run's id until a step has recorded it on the state, then "".
func (r *run) runID() string {
	if r.attached {
		return ""
	}
	return workflow.GetInfo(r.wctx).WorkflowExecution.RunID
}

func (r *run) result(status, msg string) JourneyResult {
	return JourneyResult{StateID: r.in.StateID, Status: status, Error: msg}
}

func (r *run) execute() (JourneyResult, error) {
	ctx := r.wctx
	if err := workflow.SetQueryHandler(ctx, journey.QueryState, r.query); err != nil {
		return JourneyResult{}, err
	}
	r.zone, r.window = r.in.Timezone, r.in.Window

	end := workflow.WithLocalActivityOptions(ctx, endOptions)
	err := r.runUserCode()
	switch {
	case err == nil && !r.exited:
		terr := r.transitionIn(end, contract.TransitionInput{Kind: contract.TransitionComplete, Completed: &contract.JourneyCompletedData{
			JourneyID: r.j.ID, JourneyName: r.j.Name, StateID: r.in.StateID, UserID: r.in.UserID,
		}})
		if terr == nil {
			r.status, r.node = journey.StatusCompleted, "done"
			r.setStatusAttribute()
			return r.result(journey.StatusCompleted, ""), nil
		}
		if !errors.Is(terr, journey.ErrExited) {
			return r.result(journey.StatusActive, terr.Error()), terr // the row is still live: say so, do not call it exited
		}
	case ctx.Err() != nil: // cancelled (temporal workflow cancel): an exit, recorded off the cancelled context
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		_ = workflow.ExecuteLocalActivity(dctx, contract.JourneyTransitionName, contract.TransitionInput{
			Kind: contract.TransitionExit, StateID: r.in.StateID, Message: journey.ExitWorkflowEnded}).Get(dctx, nil)
		r.status = journey.StatusExited
		r.setStatusAttributeCtx(dctx)
		return r.result(journey.StatusExited, ""), temporal.NewCanceledError()
	case !r.exited && !errors.Is(err, journey.ErrExited):
		msg := err.Error()
		terr := r.transitionIn(end, contract.TransitionInput{Kind: contract.TransitionFail, Message: msg})
		if terr == nil {
			r.status = journey.StatusFailed
			r.setStatusAttribute()
			// Returned as an error so the execution shows as Failed in the Web UI.
			return r.result(journey.StatusFailed, msg), temporal.NewNonRetryableApplicationError(msg, "JourneyFailed", nil)
		}
		if !errors.Is(terr, journey.ErrExited) {
			return r.result(journey.StatusActive, terr.Error()), terr
		}
	}
	r.status = journey.StatusExited
	r.setStatusAttribute()
	return r.result(journey.StatusExited, ""), nil
}

// runUserCode runs the journey's code, turning a panic in it into an error (the run then ends
// failed instead of retrying its workflow task forever). Panics raised by the SDK itself, such
// as non-determinism, are re-raised: a blocked task is the right outcome for those.
func (r *run) runUserCode() (err error) {
	defer func() {
		if p := recover(); p != nil {
			if panicFromSDK() {
				panic(p)
			}
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return r.j.Run(r, r.user())
}

// panicFromSDK reports whether the panic being recovered was raised inside the Temporal SDK.
func panicFromSDK() bool {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(0, pcs)])
	afterPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			afterPanic = true
		case afterPanic && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, "go.temporal.io/sdk/")
		}
		if !more {
			return false
		}
	}
}

func (r *run) user() journey.User {
	return journey.User{ID: r.in.UserID, ContactID: r.in.ContactID, Properties: r.in.Properties,
		StateID: r.in.StateID, JourneyID: r.j.ID, JourneyName: r.j.Name, Key: r.in.Key}
}

func (r *run) query() (journey.RunState, error) {
	return journey.RunState{JourneyID: r.j.ID, UserID: r.in.UserID, StateID: r.in.StateID, Status: r.status,
		CurrentNodeID: r.node, Waiting: r.waiting}, nil
}

// setStatusAttribute records the final status for the Web UI (start set "active").
func (r *run) setStatusAttribute() { r.setStatusAttributeCtx(r.wctx) }

func (r *run) setStatusAttributeCtx(ctx workflow.Context) {
	_ = workflow.UpsertTypedSearchAttributes(ctx, temporal.NewSearchAttributeKeyKeyword(journey.SearchAttrStatus).ValueSet(r.status))
}

// noteExits reads exit signals that arrived while the run was busy.
func (r *run) noteExits() bool {
	for {
		var s journey.ExitSignal
		if !r.exitCh.ReceiveAsync(&s) {
			return r.exited
		}
		r.acceptExit(s)
	}
}

func (r *run) acceptExit(s journey.ExitSignal) {
	if s.StateID == r.in.StateID {
		r.exited = true
	}
}

// step numbers the next step.
func (r *run) step(prefix string) string {
	r.seq++
	return fmt.Sprintf("%s%d", prefix, r.seq)
}

// local runs a local activity; a refusal because the run ended becomes ErrExited.
func (r *run) local(ctx workflow.Context, name string, in, out any) error {
	err := workflow.ExecuteLocalActivity(ctx, name, in).Get(ctx, out)
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Type() == contract.ErrExitedType {
		r.exited = true
		return journey.ErrExited
	}
	return err
}

// transition applies a state change; ErrExited when the row had already ended.
func (r *run) transition(in contract.TransitionInput) error { return r.transitionIn(r.wctx, in) }

func (r *run) transitionIn(ctx workflow.Context, in contract.TransitionInput) error {
	in.StateID, in.RunID = r.in.StateID, r.runID()
	var res contract.TransitionResult
	if err := r.local(ctx, contract.JourneyTransitionName, in, &res); err != nil {
		return err
	}
	r.attached = true
	if !res.Applied {
		r.exited = true
		return journey.ErrExited
	}
	return nil
}

// guard is called first by every Context method.
func (r *run) guard() error {
	if r.noteExits() {
		return journey.ErrExited
	}
	if n := workflow.GetInfo(r.wctx).GetCurrentHistoryLength(); n > historyWarning {
		r.Logger().Warn("journey run history is long; journeys must be finite", "journeyId", r.j.ID, "historyLength", n)
	}
	return nil
}

// wait is the shared body of Sleep, SleepUntil and WaitForEvent: mark the row waiting, wait
// for the timer (or the event, or an exit), mark it active again.
func (r *run) wait(kind, label string, d time.Duration, event string) (res journey.SleepResult, timedOut bool, err error) {
	if err := r.guard(); err != nil {
		return res, false, err
	}
	ctx := r.wctx
	now := workflow.Now(ctx)
	wakeAt := now.Add(d)
	token := r.step("w")
	detail := map[string]any{"kind": kind, "wakeAt": journey.Timestamp(wakeAt)}
	if event != "" {
		detail["event"], detail["timeoutMs"] = event, d.Milliseconds()
	}
	if err := r.transition(contract.TransitionInput{Kind: contract.TransitionWait, Step: token, Label: label,
		Detail: detail, Event: event, Token: token, WakeAt: &wakeAt}); err != nil {
		return res, false, err
	}
	r.status, r.node = journey.StatusWaiting, label
	r.waiting = &journey.Waiting{Kind: kind, Label: label, Event: event, WakeAt: journey.Timestamp(wakeAt)}
	res.SleptAt = journey.Timestamp(now)

	timedOut = true
	if d > 0 || event != "" {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		fired, got := false, false
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(timerCtx, d), func(workflow.Future) { fired = true })
		sel.AddReceive(r.exitCh, func(c workflow.ReceiveChannel, _ bool) {
			var s journey.ExitSignal
			c.Receive(ctx, &s)
			r.acceptExit(s)
		})
		if event != "" {
			sel.AddReceive(r.eventCh, func(c workflow.ReceiveChannel, _ bool) {
				var s journey.EventSignal
				c.Receive(ctx, &s)
				// Only the current wait's token counts: stale or early signals are dropped.
				got = s.StateID == r.in.StateID && s.WaitToken == token && s.Event == event
			})
		}
		for !fired && !got && !r.exited && ctx.Err() == nil {
			sel.Select(ctx)
		}
		cancelTimer()
		timedOut = !got
	}
	r.waiting = nil
	if ctx.Err() != nil {
		return res, false, ctx.Err()
	}
	if r.exited {
		return res, false, journey.ErrExited
	}
	resumed := map[string]any{"kind": kind}
	if event != "" {
		resumed["timedOut"] = timedOut
	}
	if err := r.transition(contract.TransitionInput{Kind: contract.TransitionResume, Step: "r" + token[1:], Label: label,
		Detail: resumed}); err != nil {
		return res, false, err
	}
	r.status = journey.StatusActive
	res.ResumedAt = journey.Timestamp(workflow.Now(ctx))
	return res, timedOut, nil
}

// Sleep implements journey.Context.
func (r *run) Sleep(d journey.Duration, label string) (journey.SleepResult, error) {
	if label == "" {
		b, _ := json.Marshal(d)
		label = "wait:" + string(b)
	}
	res, _, err := r.wait("sleep", label, max(d.Duration(), 0), "")
	return res, err
}

// SleepUntil implements journey.Context.
func (r *run) SleepUntil(at time.Time, label string) (journey.SleepResult, error) {
	if label == "" {
		label = "wait-until:" + journey.Timestamp(at)
	}
	res, _, err := r.wait("sleep_until", label, max(at.Sub(workflow.Now(r.wctx)), 0), "")
	return res, err
}

// WaitForEvent implements journey.Context.
func (r *run) WaitForEvent(event string, timeout journey.Duration, label string) (journey.WaitResult, error) {
	d := timeout.Duration()
	if strings.TrimSpace(event) == "" {
		return journey.WaitResult{}, errors.New("WaitForEvent: event is required")
	}
	if d <= 0 {
		return journey.WaitResult{}, errors.New("WaitForEvent: timeout must be positive")
	}
	if label == "" {
		label = "wait-event:" + event
	}
	_, timedOut, err := r.wait("wait_for_event", label, d, event)
	return journey.WaitResult{TimedOut: timedOut}, err
}

// Checkpoint implements journey.Context.
func (r *run) Checkpoint(label string) error {
	if err := r.guard(); err != nil {
		return err
	}
	if err := r.transition(contract.TransitionInput{Kind: contract.TransitionCheckpoint, Step: r.step("c"), Label: label}); err != nil {
		return err
	}
	r.node = label
	return nil
}

// Trigger implements journey.Context.
func (r *run) Trigger(opts journey.TriggerOptions) error {
	if err := r.guard(); err != nil {
		return err
	}
	step := r.step("t")
	in := contract.TriggerInput{StateID: r.in.StateID, RunID: r.runID(), Step: step, Event: opts.Event, UserID: opts.UserID,
		Email: opts.UserEmail, Properties: opts.Properties,
		IdempotencyKey: fmt.Sprintf("journey:%s:trigger:%s", r.in.StateID, step[1:])}
	if in.UserID == "" {
		in.UserID = r.in.UserID
	}
	if err := r.local(r.wctx, contract.JourneyTriggerName, in, nil); err != nil {
		return err
	}
	r.attached = true
	return nil
}

// SendEmail implements journey.Context.
func (r *run) SendEmail(opts journey.SendEmailOptions) (journey.SendEmailResult, error) {
	if err := r.guard(); err != nil {
		return journey.SendEmailResult{}, err
	}
	step := r.step("e")
	var res journey.SendEmailResult
	err := r.local(workflow.WithLocalActivityOptions(r.wctx, sendOptions), contract.JourneySendName, contract.SendInput{
		Step: step, RunID: r.runID(),
		Send: contract.JourneySend{IdempotencyKey: fmt.Sprintf("journey:%s:email:%s", r.in.StateID, step[1:]),
			StateID: r.in.StateID, JourneyID: r.j.ID, JourneyName: r.j.Name, UserID: r.in.UserID, To: opts.To,
			Template: opts.Template, Subject: opts.Subject, Props: opts.Props},
	}, &res)
	r.attached = r.attached || err == nil
	return res, err
}

func (r *run) lookup(in contract.LookupInput) (contract.LookupResult, error) {
	var res contract.LookupResult
	if err := r.guard(); err != nil {
		return res, err
	}
	return res, r.local(r.wctx, contract.JourneyLookupName, in, &res)
}

// IsSubscribed implements journey.Context.
func (r *run) IsSubscribed() (bool, error) {
	res, err := r.lookup(contract.LookupInput{Kind: contract.LookupSubscribed, UserID: r.in.UserID})
	return res.Yes, err
}

// Seen implements journey.Context.
func (r *run) Seen(event string, within journey.Duration) (bool, error) {
	var w *journey.Duration
	if within.Milliseconds() > 0 {
		w = &within
	}
	found, _, err := r.History().HasEvent(r.in.UserID, event, w)
	return found, err
}

// History implements journey.Context.
func (r *run) History() journey.History { return history{r} }

type history struct{ r *run }

func (h history) HasEvent(userID, event string, within *journey.Duration) (bool, int, error) {
	in := contract.LookupInput{Kind: contract.LookupEvent, UserID: userID, Event: event}
	if within != nil {
		since := workflow.Now(h.r.wctx).Add(-within.Duration())
		in.Since = &since
	}
	res, err := h.r.lookup(in)
	return res.Yes, res.Count, err
}

func (h history) Journey(userID, journeyID string) (journey.JourneyHistory, error) {
	res, err := h.r.lookup(contract.LookupInput{Kind: contract.LookupJourney, UserID: userID, JourneyID: journeyID})
	return journey.JourneyHistory{EntryCount: res.Count, Completed: res.Yes, LastCompletedAt: res.Last}, err
}

func (h history) Email(email, templateKey string) (journey.EmailHistory, error) {
	res, err := h.r.lookup(contract.LookupInput{Kind: contract.LookupEmail, Email: email, Template: templateKey})
	return journey.EmailHistory{Count: res.Count, Sent: res.Yes, LastSentAt: res.Last}, err
}

func (h history) InBucket(userID, bucketID string) (bool, error) {
	res, err := h.r.lookup(contract.LookupInput{Kind: contract.LookupBucket, UserID: userID, BucketID: bucketID})
	return res.Yes, err
}

// When implements journey.Context: bound to the contact's zone and the default send window;
// each computed instant is recorded, so replays do not depend on the tz data of the worker.
func (r *run) When() journey.When {
	return journey.NewWhen(workflow.Now(r.wctx), r.zone, r.window).WithSeal(func(t time.Time) time.Time {
		var out time.Time
		_ = workflow.SideEffect(r.wctx, func(workflow.Context) any { return t }).Get(&out)
		return out
	})
}

// userActivityOptions are those of application activities run through ExecuteActivity.
var userActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5},
}

// ExecuteActivity implements journey.Context.
func (r *run) ExecuteActivity(name string, result any, args ...any) error {
	if err := r.guard(); err != nil {
		return err
	}
	f := workflow.ExecuteActivity(workflow.WithActivityOptions(r.wctx, userActivityOptions), name, args...)
	if result == nil {
		return f.Get(r.wctx, nil)
	}
	return f.Get(r.wctx, result)
}

// Patched implements journey.Context.
func (r *run) Patched(changeID string) bool {
	return workflow.GetVersion(r.wctx, changeID, workflow.DefaultVersion, 1) == 1
}

// Logger implements journey.Context.
func (r *run) Logger() log.Logger { return workflow.GetLogger(r.wctx) }
