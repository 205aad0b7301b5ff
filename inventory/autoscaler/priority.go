package autoscaler

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/karpshift/karpshift/inventory/snapshot"
)

// Names of the priority-expander ConfigMap and its key (CA expander/priority).
const (
	PriorityConfigMapName = "cluster-autoscaler-priority-expander"
	PriorityConfigMapKey  = "priorities"
)

// ErrEmptyPriorities is returned for an empty "priorities" value, which CA rejects.
var ErrEmptyPriorities = errors.New("the priorities value is empty")

// PriorityError is a malformed priority-expander configuration. Line is the 1-based
// line in the "priorities" value (0 when the YAML parser gave none), Key the priority
// key as written and Pattern the regular expression that failed, when relevant.
type PriorityError struct {
	Line    int
	Key     string
	Pattern string
	Err     error
}

func (e *PriorityError) Error() string {
	var b strings.Builder
	msg := e.Err.Error()
	// yaml.v3 syntax errors already say "line N:"; don't say it twice.
	if e.Line > 0 && !strings.Contains(msg, fmt.Sprintf("line %d:", e.Line)) {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "priority %s: ", e.Key)
	}
	if e.Pattern != "" {
		fmt.Fprintf(&b, "pattern %q: ", e.Pattern)
	}
	b.WriteString(msg)
	return b.String()
}

func (e *PriorityError) Unwrap() error { return e.Err }

// ParsePriorities parses the "priorities" value of the cluster-autoscaler-priority-expander
// ConfigMap: a YAML map from an integer priority to a list of regular expressions.
// Every pattern is compiled with Go's regexp, as CA does. The result is sorted by
// priority, highest first; patterns keep their order.
//
// It follows CA's reading: an empty value is an error, a document with no content
// (only comments) yields no levels, a key with no value has no patterns, a list item
// with no value is the empty pattern (which matches every name) and, for a key
// written twice, the last list wins. Quoted integer keys ("10") are accepted, as
// sigs.k8s.io/yaml does. Errors are *PriorityError and name the line and the key.
func ParsePriorities(data string) ([]snapshot.PriorityLevel, error) {
	if data == "" {
		return nil, &PriorityError{Err: ErrEmptyPriorities}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(data), &doc); err != nil {
		return nil, &PriorityError{Line: yamlErrorLine(err), Err: err}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // comments only
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, &PriorityError{Line: root.Line, Err: errors.New("expected a map from priority to a list of patterns")}
	}
	byPrio := map[int]snapshot.PriorityLevel{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolve(root.Content[i]), resolve(root.Content[i+1])
		prio, err := priorityKey(k)
		if err != nil {
			return nil, &PriorityError{Line: k.Line, Key: k.Value, Err: err}
		}
		patterns, err := patternList(v, k.Value)
		if err != nil {
			return nil, err
		}
		byPrio[prio] = snapshot.PriorityLevel{Priority: prio, Patterns: patterns}
	}
	levels := make([]snapshot.PriorityLevel, 0, len(byPrio))
	for _, l := range byPrio {
		levels = append(levels, l)
	}
	slices.SortFunc(levels, func(a, b snapshot.PriorityLevel) int { return cmp.Compare(b.Priority, a.Priority) })
	return levels, nil
}

func priorityKey(k *yaml.Node) (int, error) {
	if k.Kind != yaml.ScalarNode {
		return 0, errors.New("the key is not an integer priority")
	}
	var prio int
	switch k.Tag {
	case "!!int":
		if err := k.Decode(&prio); err != nil {
			return 0, fmt.Errorf("the key is not an integer priority: %w", err)
		}
	case "!!str":
		p, err := strconv.Atoi(strings.TrimSpace(k.Value))
		if err != nil {
			return 0, errors.New("the key is not an integer priority")
		}
		prio = p
	default:
		return 0, errors.New("the key is not an integer priority")
	}
	return prio, nil
}

func patternList(v *yaml.Node, key string) ([]string, error) {
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return nil, nil
	case v.Kind != yaml.SequenceNode:
		return nil, &PriorityError{Line: v.Line, Key: key, Err: errors.New("the patterns must be a YAML list")}
	}
	out := make([]string, 0, len(v.Content))
	for _, item := range v.Content {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode {
			return nil, &PriorityError{Line: item.Line, Key: key, Err: errors.New("a pattern must be a string")}
		}
		pat := item.Value
		if item.Tag == "!!null" {
			pat = ""
		}
		if _, err := regexp.Compile(pat); err != nil {
			return nil, &PriorityError{Line: item.Line, Key: key, Pattern: pat, Err: err}
		}
		out = append(out, pat)
	}
	return out, nil
}

// resolve follows YAML aliases (*anchor) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// yamlErrorLine extracts "line N" from a yaml.v3 error, 0 when absent.
func yamlErrorLine(err error) int {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	_, rest, ok := strings.Cut(msg, "line ")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

// Priority evaluates the priority expander for one node group id, which on AWS is the
// Auto Scaling group name (for a managed node group, eks-<nodegroup>-<uuid>). A pattern
// matches anywhere in the name (unanchored, re.FindStringIndex != nil) and the highest
// matching priority wins.
//
// CA starts its running maximum at -1 and skips only priorities below it, so -1 is the
// lowest priority it can select and -2 and below are never selected. Priority returns
// (p, true) when the best match p is selectable; (p, false) when the name matches only
// priorities below -1; (0, false) when nothing matches. Patterns that do not compile
// are ignored (ParsePriorities never returns them).
func Priority(levels []snapshot.PriorityLevel, asgName string) (int, bool) {
	best, matched := 0, false
	for _, l := range levels {
		if matched && l.Priority <= best {
			continue
		}
		for _, p := range l.Patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				continue
			}
			if re.FindStringIndex(asgName) != nil {
				best, matched = l.Priority, true
				break
			}
		}
	}
	return best, matched && best >= -1
}
