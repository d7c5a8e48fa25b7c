package runplug_test

// The public surface is designed once (docs/API.md) and held to its budget
// here: a name added to a public package without a place in the budget
// fails this test. It counts what a host can name: exported top-level
// declarations and the exported methods of exported types declared in
// public packages (an alias of an internal type adds one name; its methods
// are the internal package's). internal/, cmd/ and examples/ are not API.

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"testing"
)

// surfaceBudget is docs/API.md's table: the public packages and the most
// names each may export.
var surfaceBudget = map[string]int{
	"loader":  120,
	"isolate": 22,
	"abi":     34,
	"elfmap":  16,
	"sandbox": 8,
}

const surfaceTotal = 200

func TestSurface(t *testing.T) {
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", true
	total := 0
	for _, dir := range sortedKeys(surfaceBudget) {
		names, err := exportedNames(&ctx, dir)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		total += len(names)
		if len(names) > surfaceBudget[dir] {
			t.Errorf("%s exports %d names, budget %d (docs/API.md): %v", dir, len(names), surfaceBudget[dir], names)
		}
	}
	if total > surfaceTotal {
		t.Errorf("the public packages export %d names, at most %d", total, surfaceTotal)
	}
	t.Logf("public surface: %d names", total)
}

// TestSurfacePackages fails when a public package appears that the budget
// does not name: every package outside internal/, cmd/ and examples/ is
// API and must be in docs/API.md.
func TestSurfacePackages(t *testing.T) {
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", true
	matches, err := filepath.Glob("*/*.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range matches {
		dir := filepath.Dir(m)
		switch dir {
		case "internal", "cmd", "examples", "plugins", "bench", "docs", "testdata":
			continue
		}
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if _, err := ctx.ImportDir(dir, 0); err != nil {
			continue // no buildable Go package here
		}
		if _, ok := surfaceBudget[dir]; !ok {
			t.Errorf("public package %s has no budget in docs/API.md", dir)
		}
	}
}

func exportedNames(ctx *build.Context, dir string) ([]string, error) {
	pkg, err := ctx.ImportDir(dir, 0)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var names []string
	files := append(append([]string{}, pkg.GoFiles...), pkg.CgoFiles...)
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				if d.Recv != nil {
					if id := receiverType(d.Recv.List[0].Type); id == nil || !id.IsExported() {
						continue
					} else {
						names = append(names, id.Name+"."+d.Name.Name)
						continue
					}
				}
				names = append(names, d.Name.Name)
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, id := range s.Names {
							if id.IsExported() {
								names = append(names, id.Name)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// receiverType is the named type of a method's receiver (T, *T, T[P]).
func receiverType(e ast.Expr) *ast.Ident {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x
		default:
			return nil
		}
	}
}

func sortedKeys(m map[string]int) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
