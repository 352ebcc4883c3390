package store

import (
	"context"
	"time"
)

// Heartbeat identifies one running worker process.
type Heartbeat struct {
	WorkerID      string
	TaskQueue     string
	Hostname      string
	EngineVersion string
}

// UpsertHeartbeat records that the worker is alive now.
func UpsertHeartbeat(ctx context.Context, db DBTX, h Heartbeat) error {
	_, err := db.Exec(ctx, `INSERT INTO worker_heartbeats (worker_id, task_queue, hostname, engine_version, last_seen_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = now()`,
		h.WorkerID, h.TaskQueue, h.Hostname, h.EngineVersion)
	return err
}

// DeleteHeartbeat removes a worker's row (graceful stop: "down" at once).
func DeleteHeartbeat(ctx context.Context, db DBTX, workerID string) error {
	_, err := db.Exec(ctx, `DELETE FROM worker_heartbeats WHERE worker_id = $1`, workerID)
	return err
}

// DeleteStaleHeartbeats drops rows of workers gone for longer than age.
func DeleteStaleHeartbeats(ctx context.Context, db DBTX, age time.Duration) error {
	_, err := db.Exec(ctx, `DELETE FROM worker_heartbeats WHERE last_seen_at < now() - make_interval(secs => $1)`, age.Seconds())
	return err
}

// LatestHeartbeat returns the newest last_seen_at of any worker and whether it is within window.
func LatestHeartbeat(ctx context.Context, db DBTX, window time.Duration) (lastSeen *time.Time, alive bool, err error) {
	err = db.QueryRow(ctx, `SELECT max(last_seen_at), coalesce(max(last_seen_at) >= now() - make_interval(secs => $1), false)
		FROM worker_heartbeats`, window.Seconds()).Scan(&lastSeen, &alive)
	return lastSeen, alive, err
}
