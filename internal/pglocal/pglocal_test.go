package pglocal_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/pglocal"
)

func TestMissingBinariesSayWhatToInstall(t *testing.T) {
	t.Setenv("PG_BIN_DIR", t.TempDir())
	_, err := pglocal.BinDir()
	require.ErrorIs(t, err, pglocal.ErrNoBinaries)
	require.Contains(t, err.Error(), "install PostgreSQL")
}

func TestFreePort(t *testing.T) {
	port, err := pglocal.FreePort()
	require.NoError(t, err)
	require.True(t, pglocal.PortFree(port))
}
