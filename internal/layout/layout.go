// Package layout checks the module's architecture rules over its package graph, so the arrows
// the README draws are enforced rather than hoped for:
//
//   - deterministic code (workflows and the public DSL packages) never reaches, through any of
//     our own packages, pgx, net/http, gin, api, worker or internal/..., and imports neither os
//     nor math/rand itself;
//   - only the SQL packages run queries: elsewhere pgx appears as types in signatures (pgx.Tx)
//     and pools in wiring, never as a query, a transaction or a driver error;
//   - internal/... never imports api, worker or the root;
//   - nothing but a main package imports the root.
//
// Third-party dependencies are not followed: the Temporal SDK links net/http itself, and that
// is the SDK's business, not a path from our workflow code.
package layout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Package is one package of the module as `go list -json` describes it.
type Package struct {
	ImportPath string
	Name       string
	Dir        string
	GoFiles    []string
	Imports    []string
	Module     *struct{ Path string }
}

// Rules names the module's packages by role. Paths are relative to the module ("." is the root).
type Rules struct {
	Module string
	// Deterministic packages and everything of ours they import.
	Deterministic []string
	// SQL packages may run queries (the store, the migrator, the test and dev clusters, and
	// the benchmark's raw ceilings).
	SQL []string
}

// Project are the rules of this module.
var Project = Rules{
	Module:        "github.com/hogsend/hogsend",
	Deterministic: []string{"workflows", "activities/contract", "journey", "condition", "journeytest"},
	SQL:           []string{"internal/store", "schema", "schema/schematest", "internal/pglocal", "cmd/bench"},
}

// Load lists the module's packages from dir (go list -deps -json ./...).
func Load(dir, module string) ([]Package, error) {
	cmd := exec.Command("go", "list", "-deps", "-json", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p Package
		if err := dec.Decode(&p); err != nil {
			return nil, err
		}
		if p.Module != nil && p.Module.Path == module {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs, nil
}

// Check returns every rule the packages break, one sentence each.
func (r Rules) Check(pkgs []Package) []string {
	byPath := map[string]Package{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	var out []string
	for _, p := range pkgs {
		rel := r.rel(p.ImportPath)
		if r.matches(rel, r.Deterministic) {
			out = append(out, r.reaches(p, byPath, func(imp string) bool {
				switch imp {
				case "net/http", r.Module + "/api", r.Module + "/worker":
					return true
				}
				return isPgx(imp) || strings.HasPrefix(imp, "github.com/gin-gonic/gin") ||
					strings.HasPrefix(imp, r.Module+"/internal/")
			}, "deterministic code")...)
			for _, imp := range p.Imports {
				if imp == "os" || imp == "math/rand" || imp == "math/rand/v2" {
					out = append(out, fmt.Sprintf("%s (deterministic code) imports %s", rel, imp))
				}
			}
		}
		if rel == "internal" || strings.HasPrefix(rel, "internal/") {
			out = append(out, r.reaches(p, byPath, func(imp string) bool {
				switch r.rel(imp) {
				case ".", "api", "worker":
					return true
				}
				return false
			}, "the domain")...)
		}
		if p.Name != "main" && slices.Contains(p.Imports, r.Module) {
			out = append(out, fmt.Sprintf("%s imports the root package: only a main package may", rel))
		}
		if !r.matches(rel, r.SQL) {
			out = append(out, queries(p, rel)...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// reaches follows p's imports through the module's own packages and reports each forbidden
// import with the path that leads to it.
func (r Rules) reaches(p Package, byPath map[string]Package, forbidden func(string) bool, what string) []string {
	var out []string
	seen := map[string]bool{p.ImportPath: true}
	type step struct {
		pkg  Package
		path []string
	}
	queue := []step{{p, []string{r.rel(p.ImportPath)}}}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, imp := range s.pkg.Imports {
			if forbidden(imp) {
				out = append(out, fmt.Sprintf("%s (%s) reaches %s: %s → %s", r.rel(p.ImportPath), what, imp,
					strings.Join(s.path, " → "), imp))
				continue
			}
			next, ours := byPath[imp]
			if !ours || seen[imp] {
				continue
			}
			seen[imp] = true
			queue = append(queue, step{next, append(slices.Clip(s.path), r.rel(imp))})
		}
	}
	return out
}

func (r Rules) rel(importPath string) string {
	if importPath == r.Module {
		return "."
	}
	return strings.TrimPrefix(importPath, r.Module+"/")
}

func (r Rules) matches(rel string, roots []string) bool {
	for _, root := range roots {
		if rel == root || strings.HasPrefix(rel, root+"/") {
			return true
		}
	}
	return false
}

func isPgx(imp string) bool { return strings.HasPrefix(imp, "github.com/jackc/pgx/") }

// pgxTypes are what code outside the SQL packages may name from pgx: a transaction in a
// signature, a pool in wiring.
var pgxTypes = map[string]bool{"pgx.Tx": true, "pgxpool.Pool": true, "pgxpool.New": true,
	"pgxpool.NewWithConfig": true, "pgxpool.ParseConfig": true, "pgxpool.Config": true}

// queryMethods run SQL or manage a transaction by hand.
var queryMethods = map[string]bool{"Exec": true, "Query": true, "QueryRow": true, "CopyFrom": true,
	"SendBatch": true, "Begin": true, "BeginTx": true, "Commit": true, "Rollback": true}

// queries reports SQL run outside the SQL packages: pgx used beyond its types, the driver's
// error package, and calls of the query methods with a context and a statement (a gin
// c.Query("name") has one argument and is not one).
func queries(p Package, rel string) []string {
	var out []string
	fset := token.NewFileSet()
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			out = append(out, fmt.Sprintf("%s/%s: %v", rel, name, err))
			continue
		}
		local := map[string]string{} // local name → pgx package name
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if !isPgx(path) {
				continue
			}
			if strings.HasSuffix(path, "/pgconn") {
				out = append(out, fmt.Sprintf("%s/%s imports pgconn: driver errors are the store's to interpret", rel, name))
			}
			pkg := filepath.Base(path)
			if pkg == "v5" {
				pkg = "pgx" // github.com/jackc/pgx/v5
			}
			n := pkg
			if im.Name != nil {
				n = im.Name.Name
			}
			local[n] = pkg
		}
		ast.Inspect(f, func(node ast.Node) bool {
			switch n := node.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok {
					if pkg, ok := local[id.Name]; ok && !pgxTypes[pkg+"."+n.Sel.Name] {
						out = append(out, fmt.Sprintf("%s: %s.%s outside the SQL packages", fset.Position(n.Pos()), pkg, n.Sel.Name))
					}
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || !queryMethods[sel.Sel.Name] {
					return true
				}
				sql := len(n.Args) >= 2
				if sel.Sel.Name == "Begin" || sel.Sel.Name == "Commit" || sel.Sel.Name == "Rollback" {
					sql = len(n.Args) == 1 && isCtx(n.Args[0])
				}
				if sql {
					out = append(out, fmt.Sprintf("%s: %s runs SQL outside the SQL packages", fset.Position(n.Pos()), sel.Sel.Name))
				}
			}
			return true
		})
	}
	return out
}

func isCtx(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && (id.Name == "ctx" || id.Name == "c")
}
