// Command hogsend is the shipped engine binary: the engine with no application definitions,
// plus the commands serve, worker, dev, migrate and keys. An application builds its own binary
// the same way, passing its journeys, templates and sources in Options.
package main

import "github.com/hogsend/hogsend"

func main() {
	hogsend.Main(&hogsend.Options{})
}
