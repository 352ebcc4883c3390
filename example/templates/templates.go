// Package templates holds the example app's typed template handles: each handle's props type is
// what the template renders, so a journey passing the wrong props does not compile.
package templates

import "github.com/hogsend/hogsend/email"

// Base are the props every journey template takes.
type Base struct {
	Name           string `json:"name,omitempty"`
	UnsubscribeURL string `json:"unsubscribeUrl,omitempty"`
}

// QuickstartProps are the props of activation-quickstart.
type QuickstartProps struct {
	Base
	QuickstartURL string `json:"quickstartUrl,omitempty"`
	DocsURL       string `json:"docsUrl,omitempty"`
}

// FeatureHighlightProps are the props of activation-feature-highlight.
type FeatureHighlightProps struct {
	Base
	FeatureName        string `json:"featureName,omitempty"`
	FeatureDescription string `json:"featureDescription,omitempty"`
	CtaURL             string `json:"ctaUrl,omitempty"`
	CtaText            string `json:"ctaText,omitempty"`
}

// CommunityProps are the props of activation-community.
type CommunityProps struct {
	Base
	CommunityURL  string   `json:"communityUrl,omitempty"`
	CommunityName string   `json:"communityName,omitempty"`
	Highlights    []string `json:"highlights,omitempty"`
}

// NudgeProps are the props of activation-nudge.
type NudgeProps struct {
	Base
	DaysSinceSignup int    `json:"daysSinceSignup,omitempty"`
	SetupURL        string `json:"setupUrl,omitempty"`
}

// UsageMilestoneProps are the props of conversion-usage-milestone.
type UsageMilestoneProps struct {
	Base
	UsageCount int    `json:"usageCount,omitempty"`
	UsageLabel string `json:"usageLabel,omitempty"`
	UsageLimit int    `json:"usageLimit,omitempty"`
	UpgradeURL string `json:"upgradeUrl,omitempty"`
}

// TrialExpiringProps are the props of conversion-trial-expiring.
type TrialExpiringProps struct {
	Base
	DaysLeft   int    `json:"daysLeft"`
	UpgradeURL string `json:"upgradeUrl,omitempty"`
}

// WinbackProps are the props of conversion-winback-offer.
type WinbackProps struct {
	Base
	DiscountPercent int    `json:"discountPercent,omitempty"`
	OfferURL        string `json:"offerUrl,omitempty"`
	ExpiresIn       string `json:"expiresIn,omitempty"`
}

// AchievementProps are the props of retention-achievement.
type AchievementProps struct {
	Base
	AchievementName string `json:"achievementName,omitempty"`
	CtaURL          string `json:"ctaUrl,omitempty"`
	CtaText         string `json:"ctaText,omitempty"`
}

// CheckinProps are the props of reactivation-checkin.
type CheckinProps struct {
	Base
	DaysSinceActive int    `json:"daysSinceActive"`
	ReturnURL       string `json:"returnUrl,omitempty"`
}

// ReturnProps are the props of reactivation-final-nudge.
type ReturnProps struct {
	Base
	ReturnURL string `json:"returnUrl,omitempty"`
}

// SurveyProps are the props of feedback-nps-survey.
type SurveyProps struct {
	Base
	SurveyURL string `json:"surveyUrl,omitempty"`
}

// PaymentFailedProps are the props of churn-payment-failed.
type PaymentFailedProps struct {
	Base
	GracePeriodDays  int    `json:"gracePeriodDays"`
	UpdatePaymentURL string `json:"updatePaymentUrl,omitempty"`
}

// Handles of the journey templates.
var (
	Quickstart       = email.Template[QuickstartProps]{Key: "activation-quickstart"}
	FeatureHighlight = email.Template[FeatureHighlightProps]{Key: "activation-feature-highlight"}
	Community        = email.Template[CommunityProps]{Key: "activation-community"}
	Nudge            = email.Template[NudgeProps]{Key: "activation-nudge"}
	UsageMilestone   = email.Template[UsageMilestoneProps]{Key: "conversion-usage-milestone"}
	TrialExpiring    = email.Template[TrialExpiringProps]{Key: "conversion-trial-expiring"}
	Winback          = email.Template[WinbackProps]{Key: "conversion-winback-offer"}
	Achievement      = email.Template[AchievementProps]{Key: "retention-achievement"}
	Checkin          = email.Template[CheckinProps]{Key: "reactivation-checkin"}
	FinalNudge       = email.Template[ReturnProps]{Key: "reactivation-final-nudge"}
	NPSSurvey        = email.Template[SurveyProps]{Key: "feedback-nps-survey"}
	PaymentFailed    = email.Template[PaymentFailedProps]{Key: "churn-payment-failed"}
)
