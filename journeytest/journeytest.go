// Package journeytest runs one journey in Temporal's time-skipping test environment with the
// engine's activities faked in memory, so a journey's logic (sends, sleeps of days, waits, exits)
// is tested in milliseconds; and replays recorded histories against the journey's current code.
//
//	env := journeytest.New(t, journeys.Welcome)
//	env.Emit("app.activated", journey.Days(1)) // ingested one (skipped) day after enrolment
//	env.Run(journeytest.User{ID: "u1", Email: "a@example.com"})
//	require.Equal(t, []string{"welcome"}, env.SentTemplates())
//	require.Equal(t, journey.StatusCompleted, env.Status())
package journeytest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/condition"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/workflows"
)

// User is the enrolled contact.
type User struct {
	ID         string
	Email      string
	Properties map[string]any
	Key        string
	Timezone   string // "" = UTC
}

// Env is one journey run under test.
type Env struct {
	t   testing.TB
	env *testsuite.TestWorkflowEnvironment
	j   *journey.Journey
	f   *fakes

	result workflows.JourneyResult
	err    error
}

// StateID is the state id every test run gets.
const StateID = "00000000-0000-4000-8000-000000000001"

// New prepares a run of j. Register events and settings before Run.
func New(t testing.TB, j *journey.Journey) *Env {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	e := &Env{t: t, env: env, j: j, f: newFakes(env, j)}
	env.RegisterWorkflowWithOptions(workflows.JourneyWorkflow(j), workflow.RegisterOptions{Name: journey.WorkflowName(j.ID)})
	e.f.register(env)
	return e
}

// Temporal is the underlying test environment, for what this kit does not cover.
func (e *Env) Temporal() *testsuite.TestWorkflowEnvironment { return e.env }

// Had records an event the contact had before enrolment (for History().HasEvent), ago before
// the run starts.
func (e *Env) Had(event string, ago journey.Duration) {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	e.f.past = append(e.f.past, pastEvent{name: event, ago: ago.Duration()})
}

// Emit ingests an event for the contact after the given time from the start: it is recorded in
// the history, exits the run when an exit rule matches, and wakes a WaitForEvent for it.
func (e *Env) Emit(event string, after journey.Duration, props ...map[string]any) {
	var p map[string]any
	if len(props) > 0 {
		p = props[0]
	}
	e.env.RegisterDelayedCallback(func() { e.f.ingest(event, p) }, after.Duration())
}

// Cancel exits the run as an admin cancel would, after d.
func (e *Env) Cancel(after journey.Duration) {
	e.env.RegisterDelayedCallback(func() { e.f.exit(journey.ExitAdminCancel, "") }, after.Duration())
}

// Unsubscribe makes IsSubscribed false from the start.
func (e *Env) Unsubscribe() { e.f.unsubscribed = true }

// InBucket makes the user an active member of a bucket (History().InBucket) from the start.
func (e *Env) InBucket(bucketID string) {
	if e.f.buckets == nil {
		e.f.buckets = map[string]bool{}
	}
	e.f.buckets[bucketID] = true
}

// Run enrolls u and runs the journey to its end (skipping time).
func (e *Env) Run(u User) {
	e.t.Helper()
	e.f.start(u)
	props := u.Properties
	if props == nil {
		props = map[string]any{}
	}
	e.env.ExecuteWorkflow(journey.WorkflowName(e.j.ID), workflows.JourneyInput{
		StateID: StateID, JourneyID: e.j.ID, UserID: u.ID, ContactID: "contact-" + u.ID, Key: u.Key,
		Properties: props, TriggerEvent: e.j.Trigger.Event, EventID: "event-1", TriggeredAt: "2026-01-01T00:00:00.000Z",
		Timezone: journey.FirstValidZone(u.Timezone),
	})
	if !e.env.IsWorkflowCompleted() {
		e.t.Fatalf("journey %s did not finish", e.j.ID)
	}
	e.err = e.env.GetWorkflowError()
	if e.err == nil {
		if err := e.env.GetWorkflowResult(&e.result); err != nil {
			e.t.Fatalf("journey result: %v", err)
		}
	}
}

// Status is the state's final status (completed, exited, failed).
func (e *Env) Status() string {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	return e.f.status
}

// Error is the failure message of a failed run.
func (e *Env) Error() string {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	return e.f.errMsg
}

// Sent are the sends, in order.
func (e *Env) Sent() []Send {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	return slices.Clone(e.f.sent)
}

// SentTemplates are the keys of the sends, in order.
func (e *Env) SentTemplates() []string {
	var out []string
	for _, s := range e.Sent() {
		out = append(out, s.Template)
	}
	return out
}

// Triggered are the events the run ingested, in order.
func (e *Env) Triggered() []string {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	return slices.Clone(e.f.triggered)
}

// Steps is the run's log: "<action>:<node>" per transition, in order.
func (e *Env) Steps() []string {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	return slices.Clone(e.f.steps)
}

// Elapsed is the workflow time the run took.
func (e *Env) Elapsed() time.Duration {
	e.f.mu.Lock()
	defer e.f.mu.Unlock()
	return e.f.endedAt.Sub(e.f.startedAt)
}

// Send is one recorded send.
type Send struct {
	Template string
	To       string
	Props    map[string]any
	At       time.Time
}

type pastEvent struct {
	name string
	ago  time.Duration
}

type event struct {
	name string
	at   time.Time
}

// fakes are in-memory stand-ins for the engine's journey activities and ingest.
type fakes struct {
	env *testsuite.TestWorkflowEnvironment
	j   *journey.Journey

	mu                 sync.Mutex
	user               User
	status, node       string
	waitingEvent       string
	waitToken          string
	errMsg             string
	past               []pastEvent
	events             []event
	sent               []Send
	sentKeys           map[string]bool
	triggered          []string
	triggerKeys        map[string]bool
	steps              []string
	unsubscribed       bool
	buckets            map[string]bool // InBucket
	startedAt, endedAt time.Time
}

func newFakes(env *testsuite.TestWorkflowEnvironment, j *journey.Journey) *fakes {
	return &fakes{env: env, j: j, status: journey.StatusActive, node: "start", sentKeys: map[string]bool{}, triggerKeys: map[string]bool{}}
}

func (f *fakes) start(u User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.user = u
	f.startedAt = f.env.Now()
	for _, p := range f.past {
		f.events = append(f.events, event{name: p.name, at: f.startedAt.Add(-p.ago)})
	}
	f.steps = append(f.steps, "entered:start")
}

func (f *fakes) register(env *testsuite.TestWorkflowEnvironment) {
	acts := activityFakes{f}
	for name, fn := range acts.byName() {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

func (f *fakes) live() bool {
	return f.status == journey.StatusActive || f.status == journey.StatusWaiting
}

// ingest mirrors the engine's ingest for this one contact: record, exit, wake.
func (f *fakes) ingest(name string, props map[string]any) {
	f.mu.Lock()
	f.events = append(f.events, event{name: name, at: f.env.Now()})
	exit := false
	for _, r := range f.j.ExitOn {
		if r.Event == name && condition.MatchAll(r.Where, props) {
			exit = true
		}
	}
	wake := f.status == journey.StatusWaiting && f.waitingEvent == name
	token := f.waitToken
	f.mu.Unlock()
	if exit {
		f.exit(journey.ExitOnEvent, name)
		return
	}
	if wake {
		f.env.SignalWorkflow(journey.SignalEvent, journey.EventSignal{StateID: StateID, Event: name, WaitToken: token})
	}
}

func (f *fakes) exit(reason, event string) {
	f.mu.Lock()
	ok := f.live()
	if ok {
		f.status, f.endedAt = journey.StatusExited, f.env.Now()
		f.steps = append(f.steps, "exited:"+reason)
	}
	f.mu.Unlock()
	if ok {
		f.env.SignalWorkflow(journey.SignalExit, journey.ExitSignal{StateID: StateID, Reason: reason, Event: event})
	}
}

func (f *fakes) hasEvent(name string, since *time.Time) int {
	n := 0
	for _, e := range f.events {
		if e.name == name && (since == nil || !e.at.Before(*since)) {
			n++
		}
	}
	return n
}

func (f *fakes) String() string {
	return fmt.Sprintf("status=%s node=%s steps=%s", f.status, f.node, strings.Join(f.steps, ","))
}
