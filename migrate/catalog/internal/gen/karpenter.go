package main

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
)

const (
	karpenterModule = "github.com/aws/karpenter-provider-aws"
	// karpenterToolchain is the one newer Go the project approves; the module declares a
	// go line the machine's Go refuses (e2e-stack.md §4).
	karpenterToolchain = "go1.27.3"
)

// karpenterPriceFiles are the on-demand tables read, relative to the module root. The
// China table is left out: its prices are in CNY, the catalog's are USD.
var karpenterPriceFiles = []string{
	"pkg/providers/pricing/zz_generated.pricing_aws.go",
	"pkg/providers/pricing/zz_generated.pricing_aws_us_gov.go",
}

// module is a downloaded Go module as `go mod download -json` reports it.
type module struct {
	Path    string
	Version string
	Dir     string
	Sum     string
	Error   string
}

// downloadModule fetches path@version into the module cache through the Go module proxy
// (checked against the checksum database) and returns where it is. Only the source is
// read; nothing of it is built or imported.
func downloadModule(ctx context.Context, path, version string) (module, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", path+"@"+version)
	cmd.Dir = os.TempDir() // outside any module
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN="+karpenterToolchain, "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	var m module
	if jerr := json.Unmarshal(out, &m); jerr != nil {
		return module{}, fmt.Errorf("downloading %s@%s: %v (output %q)", path, version, err, out)
	}
	if m.Error != "" || m.Dir == "" {
		return module{}, fmt.Errorf("downloading %s@%s: %s", path, version, m.Error)
	}
	return m, nil
}

// priceTable is one parsed zz_generated pricing file.
type priceTable struct {
	File        string                        // path inside the module
	Var         string                        // the Go variable it declares
	GeneratedAt string                        // from the file's "generated at" comment
	Prices      map[string]map[string]float64 // region → instance type → USD/hour
}

var generatedAt = regexp.MustCompile(`generated at (\S+)`)

// parsePriceFile reads `var X = map[string]map[ec2types.InstanceType]float64{...}` from a
// Karpenter pricing file with go/parser: only string keys and number literals are
// accepted, so anything unexpected fails the generation instead of being guessed at.
func parsePriceFile(path, rel string) (priceTable, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return priceTable{}, fmt.Errorf("reading price table: %w", err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Base(path), src, parser.ParseComments)
	if err != nil {
		return priceTable{}, fmt.Errorf("parsing %s: %w", rel, err)
	}
	t := priceTable{File: rel, Prices: map[string]map[string]float64{}}
	if m := generatedAt.FindSubmatch(src); m != nil {
		t.GeneratedAt = string(m[1])
	}
	bad := func(n ast.Node, what string) error {
		return fmt.Errorf("parsing %s: %s: unexpected %s", rel, fset.Position(n.Pos()), what)
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if len(vs.Values) != 1 {
				continue
			}
			outer, ok := vs.Values[0].(*ast.CompositeLit)
			if !ok {
				continue
			}
			t.Var = vs.Names[0].Name
			for _, elt := range outer.Elts {
				kv, ok := elt.(*ast.KeyValueExpr)
				if !ok {
					return priceTable{}, bad(elt, "region entry")
				}
				region, err := stringLit(kv.Key)
				if err != nil {
					return priceTable{}, bad(kv.Key, "region key")
				}
				inner, ok := kv.Value.(*ast.CompositeLit)
				if !ok {
					return priceTable{}, bad(kv.Value, "region table")
				}
				prices := map[string]float64{}
				for _, e := range inner.Elts {
					ikv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						return priceTable{}, bad(e, "price entry")
					}
					name, err := stringLit(ikv.Key)
					if err != nil {
						return priceTable{}, bad(ikv.Key, "instance type key")
					}
					lit, ok := ikv.Value.(*ast.BasicLit)
					if !ok || (lit.Kind != token.FLOAT && lit.Kind != token.INT) {
						return priceTable{}, bad(ikv.Value, "price")
					}
					p, err := strconv.ParseFloat(lit.Value, 64)
					if err != nil {
						return priceTable{}, bad(lit, "price")
					}
					if _, dup := prices[name]; dup {
						return priceTable{}, bad(ikv.Key, "duplicate instance type "+name)
					}
					prices[name] = p
				}
				t.Prices[region] = prices
			}
		}
	}
	if len(t.Prices) == 0 {
		return priceTable{}, fmt.Errorf("parsing %s: no price map found", rel)
	}
	return t, nil
}

func stringLit(e ast.Expr) (string, error) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", fmt.Errorf("not a string literal")
	}
	return strconv.Unquote(lit.Value)
}
