package workertest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/worker/workertest"
)

func TestServerAnswersHealth(t *testing.T) {
	c := workertest.Client(t)
	_, err := c.CheckHealth(context.Background(), &client.CheckHealthRequest{})
	require.NoError(t, err)
}
