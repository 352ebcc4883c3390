// Command hogsend is the shipped engine binary with the example app's journeys, buckets,
// templates, lists and webhook sources, plus the commands serve, worker, dev, migrate and keys. An application builds its own
// binary the same way, passing its journeys, templates and sources in Options.
package main

import (
	"github.com/hogsend/hogsend"
	"github.com/hogsend/hogsend/example/buckets"
	"github.com/hogsend/hogsend/example/journeys"
	"github.com/hogsend/hogsend/example/sources"
	"github.com/hogsend/hogsend/example/templates"
)

func main() {
	hogsend.Main(&hogsend.Options{Journeys: journeys.All(), Buckets: buckets.All(), Templates: templates.Registry(), Lists: templates.Lists(),
		WebhookSources: sources.All()})
}
