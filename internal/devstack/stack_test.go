package devstack

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStackStopsInReverseOrderOnce(t *testing.T) {
	var out bytes.Buffer
	s, err := Open(t.TempDir(), &out, 2)
	require.NoError(t, err)
	var order []string
	s.OnClose(func() { order = append(order, "postgres") })
	s.OnClose(func() { order = append(order, "engine") })
	s.Step("first")("ok")
	s.Close()
	s.Close()
	require.Equal(t, []string{"engine", "postgres"}, order)
	require.Regexp(t, `^\[1/2\] first … ok \(\d`, out.String())
}

func TestSecretIsKept(t *testing.T) {
	s, err := Open(t.TempDir(), &bytes.Buffer{}, 1)
	require.NoError(t, err)
	first, err := s.Secret()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(first), 32)
	again, err := s.Secret()
	require.NoError(t, err)
	require.Equal(t, first, again)
	info, err := os.Stat(filepath.Join(s.Dir, "secret"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())
}

func TestSettingsRejectUnknownKeys(t *testing.T) {
	t.Chdir(t.TempDir()) // no temporal-dev.yml here: the built-in copy is read
	_, source, err := LoadSettings([]byte("temporal:\n  prot: 7233\n"))
	require.Equal(t, "built-in temporal-dev.yml", source)
	require.ErrorContains(t, err, "prot")

	s, _, err := LoadSettings([]byte("temporal:\n  port: 7233\nmailpit:\n  smtpPort: 1025\n"))
	require.NoError(t, err)
	require.Equal(t, 7233, s.Temporal.Port)
	require.Equal(t, 1025, s.Mailpit.SMTPPort)
}

func TestToolsNotNeededAreNotBuilt(t *testing.T) {
	s, err := Open(t.TempDir(), &bytes.Buffer{}, 1)
	require.NoError(t, err)
	bins, note, err := s.buildTools(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, "skipped", note)
	require.Empty(t, bins)
	require.Equal(t, "none needed", toolNames(nil))
	require.Equal(t, "Temporal CLI "+TemporalCLIVersion+" and Mailpit", toolNames([]tool{temporalCLI, mailpit}))
}
