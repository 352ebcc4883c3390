package workflows_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// forbidden are imports that would make workflow code non-deterministic or side-effecting.
var forbidden = []string{
	"github.com/jackc/pgx", "net/http", "github.com/gin-gonic/gin", "os", "math/rand", "time/tzdata",
	"github.com/hogsend/hogsend/api", "github.com/hogsend/hogsend/worker", "github.com/hogsend/hogsend/internal/store",
}

// TestWorkflowCodeImportsNoSideEffects keeps workflows/ deterministic: no SQL, HTTP, OS or
// randomness packages, and none of the engine's side-effecting packages.
func TestWorkflowCodeImportsNoSideEffects(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				require.False(t, path == bad || strings.HasPrefix(path, bad+"/"), "%s imports %s", f, path)
			}
		}
	}
}
