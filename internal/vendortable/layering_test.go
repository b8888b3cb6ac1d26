package vendortable

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestOnlyTheTableNamesVendors proves docs/adding-a-vendor.md's claim:
// outside a vendor's own files — its package vendors/<name>/, its
// configuration section internal/config/<name>.go and its entry here,
// internal/vendortable/<name>.go — no code of the shipped program names
// the vendor or its marker, but for one line: its field in
// config.Vendors. Comments and tests may; identifiers and string literals
// may not. Tools beside the program (cmd/scandrop-bench, tools/) and the
// test kit are out of scope.
func TestOnlyTheTableNamesVendors(t *testing.T) {
	root := filepath.Join("..", "..")
	skip := map[string]bool{".git": true, "cmd/scandrop-bench": true, "tools": true, "internal/testkit": true, "packaging": true}
	for _, e := range All() {
		skip["vendors/"+e.Name] = true
	}
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skip[rel] || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var text string
			switch n := n.(type) {
			case *ast.Ident:
				text = n.Name
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				text, _ = strconv.Unquote(n.Value)
			case *ast.ImportSpec:
				text, _ = strconv.Unquote(n.Path.Value)
			default:
				return true
			}
			for _, e := range All() {
				if rel == "internal/config/"+e.Name+".go" || rel == "internal/vendortable/"+e.Name+".go" {
					continue
				}
				low := strings.ToLower(text)
				if !strings.Contains(low, e.Name) && !strings.Contains(low, strings.ToLower(e.Marker)) {
					continue
				}
				pos := fset.Position(n.Pos())
				line := strings.TrimSpace(strings.Split(string(src), "\n")[pos.Line-1])
				if rel == "internal/config/accounts.go" && isVendorsField(line, e.Name) {
					continue
				}
				found = append(found, pos.String()+": "+line)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("vendors named outside their own files and the table (see docs/adding-a-vendor.md):\n%s", strings.Join(dedupe(found), "\n"))
	}
}

// isVendorsField reports the line of config.Vendors that holds vendor
// name's section: `Name *Name ` + "`yaml:\"name\"`".
func isVendorsField(line, name string) bool {
	f := strings.Fields(line)
	return len(f) == 3 && strings.EqualFold(f[0], name) && strings.EqualFold(f[1], "*"+name) && f[2] == "`yaml:\""+name+"\"`"
}

func dedupe(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
