package journeys_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/example/journeys"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/journeytest"
)

var ada = journeytest.User{ID: "u1", Email: "ada@example.com", Properties: map[string]any{"firstName": "Ada"}}

func TestWelcomeSeriesNudgesAUserWhoUsedNothing(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.ActivationWelcome)
	env.Run(ada)

	require.Equal(t, journey.StatusCompleted, env.Status())
	require.Equal(t, []string{"activation-quickstart", "activation-nudge", "activation-community"}, env.SentTemplates())
	require.Equal(t, 4*24*time.Hour, env.Elapsed())
	sent := env.Sent()
	require.Equal(t, "ada@example.com", sent[0].To)
	require.Equal(t, "Ada", sent[0].Props["name"])
	require.Equal(t, 48*time.Hour, sent[1].At.Sub(sent[0].At))
}

func TestWelcomeSeriesHighlightsFeaturesForActiveUsers(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.ActivationWelcome)
	env.Emit("feature.used", journey.Days(1))
	env.Run(ada)

	require.Equal(t, []string{"activation-quickstart", "activation-feature-highlight", "activation-community"}, env.SentTemplates())
}

func TestExitDuringASleepSendsNothingMore(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.ActivationWelcome)
	env.Emit("user.deleted", journey.Days(1))
	env.Run(ada)

	require.Equal(t, journey.StatusExited, env.Status())
	require.Equal(t, []string{"activation-quickstart"}, env.SentTemplates())
	require.Equal(t, 24*time.Hour, env.Elapsed())
}

func TestNPSSurveyRunsSixtyThreeDaysAndStopsOnAnAnswer(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.FeedbackNPS)
	env.Run(ada)
	require.Equal(t, journey.StatusCompleted, env.Status())
	require.Equal(t, []string{"feedback-nps-survey", "feedback-nps-survey", "feedback-nps-survey"}, env.SentTemplates())
	require.Equal(t, 63*24*time.Hour, env.Elapsed())

	answered := journeytest.New(t, journeys.FeedbackNPS)
	answered.Emit("nps.submitted", journey.Days(15))
	answered.Run(ada)
	require.Equal(t, journey.StatusExited, answered.Status())
	require.Equal(t, []string{"feedback-nps-survey"}, answered.SentTemplates())
}

func TestWaitForEventIsSatisfiedByALaterEvent(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.TestWaitForEvent)
	env.Emit("test.activated", journey.Seconds(2))
	env.Run(journeytest.User{ID: "u1", Properties: map[string]any{"eligible": true}})

	require.Equal(t, journey.StatusCompleted, env.Status())
	require.Equal(t, []string{"test.wait_satisfied"}, env.Triggered())
	require.Equal(t, 2*time.Second, env.Elapsed())
}

func TestWaitForEventIgnoresEarlierEventsAndTimesOut(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.TestWaitForEvent)
	env.Had("test.activated", journey.Minutes(5))
	env.Run(journeytest.User{ID: "u1"})

	require.Equal(t, []string{"test.wait_timed_out"}, env.Triggered())
	require.Equal(t, 4*time.Second, env.Elapsed())
	require.Equal(t, []string{"entered:start", "waiting:await-activation", "resumed:await-activation",
		"event_triggered:test.wait_timed_out", "completed:done"}, env.Steps())
}

func TestExitFilterOnlyMatchesItsScope(t *testing.T) {
	t.Parallel()
	other := journeytest.New(t, journeys.TestWaitForEvent)
	other.Emit("test.cancel", journey.Seconds(1), map[string]any{"scope": "sleep"})
	other.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusCompleted, other.Status())

	mine := journeytest.New(t, journeys.TestWaitForEvent)
	mine.Emit("test.cancel", journey.Seconds(1), map[string]any{"scope": "wait"})
	mine.Run(journeytest.User{ID: "u1"})
	require.Equal(t, journey.StatusExited, mine.Status())
	require.Empty(t, mine.Triggered())
}

func TestOnboardingBranchesOnPlan(t *testing.T) {
	t.Parallel()
	pro := journeytest.New(t, journeys.TestOnboarding)
	pro.Run(journeytest.User{ID: "u1", Properties: map[string]any{"plan": "pro"}})
	require.Equal(t, []string{"journey.welcome_fired", "journey.pro_path", "journey.completed"}, pro.Triggered())
	require.Equal(t, journey.StatusCompleted, pro.Status())

	free := journeytest.New(t, journeys.TestOnboarding)
	free.Run(journeytest.User{ID: "u2"})
	require.Equal(t, []string{"journey.welcome_fired", "journey.free_path", "journey.completed"}, free.Triggered())
}

func TestDormancyWinbackTriggersSuppressionAtTheEnd(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.ReactivationDormancy)
	env.Run(journeytest.User{ID: "u1", Email: "a@example.com", Properties: map[string]any{"plan": "paid"}})
	require.Equal(t, journey.StatusCompleted, env.Status())
	require.Equal(t, []string{"reactivation-checkin", "reactivation-checkin", "conversion-winback-offer", "reactivation-final-nudge"}, env.SentTemplates())
	require.EqualValues(t, 30, env.Sent()[2].Props["discountPercent"])
	require.Equal(t, []string{"user.suppressed"}, env.Triggered())
	require.Equal(t, 31*24*time.Hour, env.Elapsed())
}

func TestChurnRecoveryStopsWhenPaymentSucceeds(t *testing.T) {
	t.Parallel()
	env := journeytest.New(t, journeys.ChurnPrevention)
	env.Emit("payment.succeeded", journey.Hours(30))
	env.Run(ada)
	require.Equal(t, journey.StatusExited, env.Status())
	require.Equal(t, []string{"churn-payment-failed", "churn-payment-failed"}, env.SentTemplates())
}

func TestEveryExampleJourneyCompletesWithoutEvents(t *testing.T) {
	t.Parallel()
	for _, j := range journeys.All() {
		env := journeytest.New(t, j)
		env.Run(journeytest.User{ID: "u1", Email: "a@example.com", Properties: map[string]any{"eligible": true}})
		require.Equal(t, journey.StatusCompleted, env.Status(), j.ID)
	}
}
