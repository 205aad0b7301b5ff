package permissions_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/awsapi"
	"github.com/karpshift/karpshift/migrate/bootstrap/cloud"
	"github.com/karpshift/karpshift/migrate/catalog"
	"github.com/karpshift/karpshift/migrate/cutover"
	"github.com/karpshift/karpshift/migrate/permissions"
)

const module = "github.com/karpshift/karpshift/"

// interfaces are the narrow AWS client interfaces each mode's own code calls through.
// A mode's policy must list exactly the calls of its interfaces and of the modes it
// includes (plus the actions the table says a call implies).
var interfaces = map[permissions.Mode][]reflect.Type{
	permissions.Read: {
		reflect.TypeFor[awsapi.EKS](), reflect.TypeFor[awsapi.AutoScaling](), reflect.TypeFor[awsapi.EC2](),
		reflect.TypeFor[catalog.LiveEC2](),
	},
	permissions.Migrate: {reflect.TypeFor[cutover.EKSAPI](), reflect.TypeFor[cutover.AutoScalingAPI]()},
	permissions.Cleanup: {
		reflect.TypeFor[cutover.EKSDeleteAPI](), reflect.TypeFor[cutover.AutoScalingDeleteAPI](), reflect.TypeFor[cutover.IAMAPI](),
	},
	permissions.Bootstrap: {
		reflect.TypeFor[cloud.IAM](), reflect.TypeFor[cloud.SQS](), reflect.TypeFor[cloud.EventBridge](),
		reflect.TypeFor[cloud.EKS](), reflect.TypeFor[cloud.EC2](),
	},
}

// iamPrefix maps an AWS SDK service package to its IAM service prefix.
var iamPrefix = map[string]string{
	"eks": "eks", "autoscaling": "autoscaling", "ec2": "ec2", "iam": "iam", "sqs": "sqs", "eventbridge": "events",
}

// label names an interface as the table's By column does: "migrate/cutover.EKSAPI".
var sidSuffix = map[string]string{"eks": "EKS", "autoscaling": "AutoScaling", "ec2": "EC2", "iam": "IAM", "sqs": "SQS", "events": "EventBridge"}

func label(t reflect.Type) string { return strings.TrimPrefix(t.PkgPath(), module) + "." + t.Name() }

// derive returns the IAM action of every method of an interface: the service from the
// package of the method's input type, the operation from the method's name. It also
// checks that each method has the SDK's exact shape (ctx, *XInput, ...func(*Options))
// (*XOutput, error), so that the method really is that SDK operation.
func derive(t *testing.T, it reflect.Type) []string {
	t.Helper()
	var out []string
	for i := range it.NumMethod() {
		m := it.Method(i)
		ft := m.Type
		if ft.NumIn() != 3 || !ft.IsVariadic() || ft.NumOut() != 2 || ft.In(1).Kind() != reflect.Pointer || ft.Out(0).Kind() != reflect.Pointer {
			t.Errorf("%s.%s is not an AWS SDK call: %s", label(it), m.Name, ft)
			continue
		}
		in, outT := ft.In(1).Elem(), ft.Out(0).Elem()
		pkg, ok := strings.CutPrefix(in.PkgPath(), "github.com/aws/aws-sdk-go-v2/service/")
		if !ok || in.Name() != m.Name+"Input" || outT.Name() != m.Name+"Output" || outT.PkgPath() != in.PkgPath() {
			t.Errorf("%s.%s does not have the SDK's signature: %s", label(it), m.Name, ft)
			continue
		}
		prefix, ok := iamPrefix[pkg]
		if !ok {
			t.Errorf("%s.%s: no IAM prefix known for SDK package %s", label(it), m.Name, pkg)
			continue
		}
		out = append(out, prefix+":"+m.Name)
	}
	return out
}

func sortedSet(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func diff(got, want []string) (extra, missing []string) {
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	return extra, missing
}

func TestPermissionsPolicyListsExactlyTheCallsOfTheCode(t *testing.T) {
	table := permissions.AWSActions()
	implied := map[string][]string{}
	for _, a := range table {
		implied[a.Name] = a.Implied
	}
	for _, m := range permissions.Modes() {
		var want []string
		for _, inc := range m.Includes() {
			for _, it := range interfaces[inc] {
				want = append(want, derive(t, it)...)
			}
		}
		for _, a := range sortedSet(want) {
			want = append(want, implied[a]...)
		}
		want = sortedSet(want)

		var got []string
		doc := permissions.Policy(m)
		if doc.Version != "2012-10-17" {
			t.Errorf("%s: version %q", m, doc.Version)
		}
		sids := map[string]bool{}
		for _, s := range doc.Statement {
			if sids[s.Sid] || s.Effect != "Allow" || s.Resource != "*" || !slices.IsSorted(s.Action) {
				t.Errorf("%s: statement %+v", m, s)
			}
			sids[s.Sid] = true
			for _, a := range s.Action {
				if slices.Contains(got, a) {
					t.Errorf("%s: %s is listed twice", m, a)
				}
				prefix, _, _ := strings.Cut(a, ":")
				if !strings.HasSuffix(s.Sid, sidSuffix[prefix]) {
					t.Errorf("%s: %s is in statement %s", m, a, s.Sid)
				}
				got = append(got, a)
			}
		}
		got = sortedSet(got)
		if extra, missing := diff(got, want); len(extra)+len(missing) > 0 {
			t.Errorf("%s policy: not called by the code: %v; called but missing: %v", m, extra, missing)
		}
		if g := permissions.IAMActions(m); !slices.Equal(g, want) {
			t.Errorf("%s: IAMActions %v, want %v", m, g, want)
		}
	}
}

// The table's By column names, for every action, exactly the interfaces that declare it.
func TestPermissionsActionTableNamesItsInterfaces(t *testing.T) {
	by := map[string][]string{}
	modes := map[string][]permissions.Mode{}
	for m, its := range interfaces {
		for _, it := range its {
			for _, a := range derive(t, it) {
				by[a] = append(by[a], label(it))
				if !slices.Contains(modes[a], m) {
					modes[a] = append(modes[a], m)
				}
			}
		}
	}
	for _, a := range permissions.AWSActions() {
		got := strings.Split(a.By, ", ")
		if extra, missing := diff(sortedSet(got), sortedSet(by[a.Name])); len(extra)+len(missing) > 0 {
			t.Errorf("%s: By %q, but declared by %v", a.Name, a.By, by[a.Name])
		}
		want := modes[a.Name]
		slices.SortFunc(want, func(x, y permissions.Mode) int {
			return slices.Index(permissions.Modes(), x) - slices.Index(permissions.Modes(), y)
		})
		if !slices.Equal(a.Modes, want) {
			t.Errorf("%s: modes %v, but called by the code of %v", a.Name, a.Modes, want)
		}
		for _, i := range a.Implied {
			if p, _, _ := strings.Cut(i, ":"); !slices.Contains([]string{"eks", "autoscaling", "ec2", "iam", "sqs", "events"}, p) {
				t.Errorf("%s implies %s, of an unknown service", a.Name, i)
			}
		}
	}
}

// Every interface in the code that declares an AWS SDK call is one the test knows, so a
// new client interface cannot escape the policy.
func TestPermissionsEveryAWSInterfaceIsAccountedFor(t *testing.T) {
	known := map[string]bool{}
	for _, its := range interfaces {
		for _, it := range its {
			known[label(it)] = true
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, top := range []string{"inventory", "migrate", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() && (name == "testdata" || name == "fake" || strings.HasPrefix(name, "fake") || strings.HasSuffix(name, "test")) {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			for _, n := range awsInterfaces(t, path) {
				found[filepath.ToSlash(rel)+"."+n] = true
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	for n := range found {
		if !known[n] {
			t.Errorf("interface %s declares AWS SDK calls but no permission mode lists it (add it to interfaces here and its calls to the table)", n)
		}
	}
	for n := range known {
		if !found[n] {
			t.Errorf("interface %s was not found in the source", n)
		}
	}
}

// awsInterfaces returns the interface types of a file that declare AWS SDK calls (a
// method taking *<service>.XInput, or an embedded <service>.XAPIClient).
func awsInterfaces(t *testing.T, path string) []string {
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	sdk := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if !strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/") || strings.HasSuffix(p, "/types") {
			continue
		}
		name := p[strings.LastIndexByte(p, '/')+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		sdk[name] = true
	}
	fromSDK := func(e ast.Expr) bool {
		if s, ok := e.(*ast.StarExpr); ok {
			e = s.X
		}
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return false
		}
		id, ok := sel.X.(*ast.Ident)
		return ok && sdk[id.Name]
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		it, ok := ts.Type.(*ast.InterfaceType)
		if !ok {
			return true
		}
		for _, m := range it.Methods.List {
			calls := false
			switch ft := m.Type.(type) {
			case *ast.FuncType:
				for _, p := range ft.Params.List {
					calls = calls || fromSDK(p.Type)
				}
			default:
				calls = fromSDK(ft)
			}
			if calls {
				out = append(out, ts.Name.Name)
				break
			}
		}
		return true
	})
	return out
}
