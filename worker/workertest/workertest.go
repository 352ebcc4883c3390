// Package workertest runs a real Temporal server in-process for tests (temporaltest), one per
// test binary, with a fresh task queue per test.
package workertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"
)

var (
	serverOnce sync.Once
	server     *temporaltest.TestServer
)

// Server returns the package-wide in-process Temporal server, starting it on first use.
// It lives until the test binary exits.
func Server(t testing.TB) *temporaltest.TestServer {
	t.Helper()
	serverOnce.Do(func() {
		server = temporaltest.NewServer()
	})
	return server
}

// Client returns a client of the shared server, closed when the test ends.
func Client(t testing.TB) client.Client {
	t.Helper()
	c := Server(t).NewClientWithOptions(client.Options{})
	t.Cleanup(c.Close)
	return c
}

// TaskQueue returns a task queue name unique to one test.
func TaskQueue(t testing.TB) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "hogsend-test-" + hex.EncodeToString(b)
}

// SaveHistory writes the history of a finished run as JSON (the format of `temporal workflow
// show --output json` and of the replayer) to file.
func SaveHistory(t testing.TB, c client.Client, workflowID, runID, file string) {
	t.Helper()
	hist := &historypb.History{}
	iter := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatalf("read history of %s: %v", workflowID, err)
		}
		hist.Events = append(hist.Events, ev)
	}
	body, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(hist)
	if err == nil {
		err = os.WriteFile(file, append(body, '\n'), 0o644)
	}
	if err != nil {
		t.Fatalf("save history of %s: %v", workflowID, err)
	}
}
