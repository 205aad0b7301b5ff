package autoscaler

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

func TestParsePriorities(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []snapshot.PriorityLevel
	}{
		{
			name: "readme example, sorted highest first",
			data: "10:\n  - .*t2\\.large.*\n  - .*t3\\.large.*\n50:\n  - .*m4\\.4xlarge.*\n",
			want: []snapshot.PriorityLevel{
				{Priority: 50, Patterns: []string{`.*m4\.4xlarge.*`}},
				{Priority: 10, Patterns: []string{`.*t2\.large.*`, `.*t3\.large.*`}},
			},
		},
		{
			name: "flow style, negative and quoted keys",
			data: `{"-5": [spot], 0: ["^eks-ng-a-"], 100: [on-demand, "x|y"]}`,
			want: []snapshot.PriorityLevel{
				{Priority: 100, Patterns: []string{"on-demand", "x|y"}},
				{Priority: 0, Patterns: []string{"^eks-ng-a-"}},
				{Priority: -5, Patterns: []string{"spot"}},
			},
		},
		{
			name: "duplicate key: the last list wins",
			data: "10:\n  - a\n10:\n  - b\n",
			want: []snapshot.PriorityLevel{{Priority: 10, Patterns: []string{"b"}}},
		},
		{
			name: "key without a value, empty item matches everything",
			data: "5:\n20:\n  -\n",
			want: []snapshot.PriorityLevel{
				{Priority: 20, Patterns: []string{""}},
				{Priority: 5},
			},
		},
		{
			name: "numbers as patterns keep their text; aliases resolve",
			data: "1: &p\n  - 123\n2: *p\n",
			want: []snapshot.PriorityLevel{
				{Priority: 2, Patterns: []string{"123"}},
				{Priority: 1, Patterns: []string{"123"}},
			},
		},
		{name: "comments only", data: "# nothing yet\n", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePriorities(tt.data)
			if err != nil {
				t.Fatalf("ParsePriorities: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParsePrioritiesErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // substrings
		line int
	}{
		{"bad regexp", "10:\n  - ok\n  - \"[a-\"\n", []string{"line 3", "priority 10", `pattern "[a-"`, "missing closing ]"}, 3},
		{"bad regexp in flow list", "50: [\"(x\"]", []string{"line 1", "priority 50", `pattern "(x"`}, 1},
		{"key not an integer", "10:\n  - a\nhigh:\n  - b\n", []string{"line 3", "priority high", "not an integer"}, 3},
		{"float key", "1.5: [a]\n", []string{"line 1", "priority 1.5"}, 1},
		{"scalar instead of list", "10: .*\n", []string{"line 1", "priority 10", "must be a YAML list"}, 1},
		{"nested list", "10:\n  - [a, b]\n", []string{"line 2", "priority 10", "must be a string"}, 2},
		{"not a map", "- a\n- b\n", []string{"line 1", "expected a map"}, 1},
		{"yaml syntax", "10:\n  - a\n b: [\n", []string{"line"}, -1},
		{"empty", "", []string{"empty"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePriorities(tt.data)
			if err == nil {
				t.Fatal("want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var pe *PriorityError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *PriorityError", err)
			}
			if tt.line >= 0 && pe.Line != tt.line {
				t.Errorf("line = %d, want %d", pe.Line, tt.line)
			}
		})
	}
}

func TestPriority(t *testing.T) {
	levels, err := ParsePriorities(`
100:
  - ^eks-gpu-
50:
  - spot
  - ^eks-general-
10:
  - .*
-1:
  - ^legacy-
-5:
  - ^never-
`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		asg    string
		want   int
		wantOK bool
	}{
		{"eks-gpu-1a2b", 100, true},
		{"eks-general-3c4d", 50, true},
		{"workers-spot-az1", 50, true}, // unanchored: "spot" anywhere
		{"anything", 10, true},         // falls to the catch-all
	}
	for _, tt := range tests {
		got, ok := Priority(levels, tt.asg)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Priority(%q) = %d, %v; want %d, %v", tt.asg, got, ok, tt.want, tt.wantOK)
		}
	}

	neg, _ := ParsePriorities("-1: [^legacy-]\n-5: [^never-, ^legacy-old]\n3: ['^a$']\n")
	negTests := []struct {
		asg    string
		want   int
		wantOK bool
	}{
		{"legacy-1", -1, true},     // CA's maxPrio starts at -1 and only skips prio < maxPrio
		{"never-1", -5, false},     // below -1: never selected
		{"legacy-old-1", -1, true}, // the highest matching key wins
		{"b", 0, false},            // no match
		{"xa", 0, false},           // anchors are honoured
		{"a", 3, true},
	}
	for _, tt := range negTests {
		got, ok := Priority(neg, tt.asg)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Priority(%q) = %d, %v; want %d, %v", tt.asg, got, ok, tt.want, tt.wantOK)
		}
	}

	// Unsorted input gives the same answer; invalid patterns are ignored.
	unsorted := []snapshot.PriorityLevel{{Priority: 1, Patterns: []string{"x"}}, {Priority: 9, Patterns: []string{"[", "x"}}}
	if got, ok := Priority(unsorted, "x"); got != 9 || !ok {
		t.Errorf("unsorted: got %d, %v; want 9, true", got, ok)
	}
	if _, ok := Priority(nil, "x"); ok {
		t.Error("no levels must not match")
	}
}
