// Package activities holds the engine's Temporal activities: methods on structs that carry their
// dependencies, one input struct in and one result struct out, registered under constant names.
package activities

import (
	"context"
	"fmt"

	"github.com/hogsend/hogsend/internal/store"
)

// PingDatabaseName is the registered name of Ops.PingDatabase.
const PingDatabaseName = "hogsend-ping-database"

// Ops are the engine's operational activities.
type Ops struct {
	DB store.DBTX
	// WorkerID identifies the worker process in results.
	WorkerID string
}

// PingDatabaseResult names the worker that reached the database.
type PingDatabaseResult struct {
	Worker string
}

// PingDatabase checks that the worker can reach Postgres.
func (o *Ops) PingDatabase(ctx context.Context) (PingDatabaseResult, error) {
	if err := store.Ping(ctx, o.DB); err != nil {
		return PingDatabaseResult{}, fmt.Errorf("worker %s cannot reach the database: %w", o.WorkerID, err)
	}
	return PingDatabaseResult{Worker: o.WorkerID}, nil
}
