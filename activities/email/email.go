// Package email holds the public email definitions journeys and applications use: typed template
// handles and categories. The send pipeline lives elsewhere; this package has no dependencies.
package email

// Category decides which preferences and caps apply to a send.
type Category string

// Categories.
const (
	CategoryJourney       Category = "journey"
	CategoryTransactional Category = "transactional"
	CategoryCampaign      Category = "campaign"
)

// Template is a typed handle on a registered template: P is its props type, so a journey that
// passes the wrong props does not compile.
type Template[P any] struct {
	Key string
}
