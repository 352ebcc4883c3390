package sink_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/email/sink"
)

func TestSendWritesAnEMLFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mail")
	res, err := (&sink.Provider{Dir: dir}).Send(context.Background(), email.Message{
		From: "hello@acme.example", To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello Ada", HTML: "<p>Hello Ada</p>"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(res.ID, "sink_"))
	files, err := filepath.Glob(filepath.Join(dir, "*-"+res.ID+".eml"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	body, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(body), "To: ada@example.com\r\n")
	require.Contains(t, string(body), "Hello Ada")
}
