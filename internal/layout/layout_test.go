package layout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTheModuleKeepsItsRules(t *testing.T) {
	t.Parallel()
	pkgs, err := Load(filepath.Join("..", ".."), Project.Module)
	require.NoError(t, err)
	require.Greater(t, len(pkgs), 20, "go list found the module's packages")
	require.Empty(t, Project.Check(pkgs))
}

// TestEachRuleCanFail runs the rules over small fake graphs, one violation each.
func TestEachRuleCanFail(t *testing.T) {
	t.Parallel()
	const m = "example.com/m"
	r := Rules{Module: m, Deterministic: []string{"workflows", "journey"}, SQL: []string{"internal/store"}}
	dir := t.TempDir()
	src := func(name, code string) string {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(code), 0o644))
		return name
	}
	pkg := func(rel, name string, files []string, imports ...string) Package {
		path := m
		if rel != "." {
			path = m + "/" + rel
		}
		return Package{ImportPath: path, Name: name, Dir: dir, GoFiles: files, Imports: imports}
	}
	clean := src("clean.go", "package x\n\nimport \"github.com/jackc/pgx/v5\"\n\nfunc f(tx pgx.Tx) {}\n")
	ginQuery := src("gin.go", "package x\n\nfunc g(c interface{ Query(string) string }) string { return c.Query(\"from\") }\n")

	for name, tc := range map[string]struct {
		pkgs []Package
		want string
	}{
		"a workflow reaches pgx through one of our packages": {
			pkgs: []Package{pkg("workflows", "workflows", nil, m+"/activities"), pkg("activities", "activities", nil, m+"/internal/store"),
				pkg("internal/store", "store", nil, "github.com/jackc/pgx/v5")},
			want: "workflows (deterministic code) reaches " + m + "/internal/store: workflows → activities → " + m + "/internal/store",
		},
		"the DSL imports net/http": {
			pkgs: []Package{pkg("journey", "journey", nil, "net/http")},
			want: "journey (deterministic code) reaches net/http: journey → net/http",
		},
		"a workflow reads the environment": {
			pkgs: []Package{pkg("workflows", "workflows", nil, "os")},
			want: "workflows (deterministic code) imports os",
		},
		"the domain imports the api": {
			pkgs: []Package{pkg("internal/ingest", "ingest", nil, m+"/api"), pkg("api", "api", nil)},
			want: "internal/ingest (the domain) reaches " + m + "/api: internal/ingest → " + m + "/api",
		},
		"a library package imports the root": {
			pkgs: []Package{pkg("api", "api", nil, m), pkg(".", "m", nil)},
			want: "api imports the root package: only a main package may",
		},
		"SQL outside the store": {
			pkgs: []Package{pkg("internal/ingest", "ingest", []string{src("q.go",
				"package x\n\nfunc q(ctx any, db interface{ Exec(any, string) error }) error { return db.Exec(ctx, `DELETE FROM t`) }\n")})},
			want: "q.go:3:73: Exec runs SQL outside the SQL packages",
		},
		"a transaction outside the store": {
			pkgs: []Package{pkg("internal/ingest", "ingest", []string{src("tx.go",
				"package x\n\nimport \"github.com/jackc/pgx/v5\"\n\nvar f = pgx.BeginFunc\n")})},
			want: "tx.go:5:9: pgx.BeginFunc outside the SQL packages",
		},
		"driver errors outside the store": {
			pkgs: []Package{pkg("internal/ingest", "ingest", []string{src("code.go",
				"package x\n\nimport \"github.com/jackc/pgx/v5/pgconn\"\n\nvar _ *pgconn.PgError\n")})},
			want: "code.go imports pgconn",
		},
	} {
		t.Run(name, func(t *testing.T) {
			require.Contains(t, strings.Join(r.Check(tc.pkgs), "\n"), tc.want)
		})
	}

	t.Run("types in signatures, a gin query and a main package are allowed", func(t *testing.T) {
		require.Empty(t, r.Check([]Package{pkg("internal/ingest", "ingest", []string{clean, ginQuery}, "github.com/jackc/pgx/v5"),
			pkg("cmd/app", "main", nil, m), pkg(".", "m", nil), pkg("workflows", "workflows", nil, "go.temporal.io/sdk/workflow")}))
	})
}
