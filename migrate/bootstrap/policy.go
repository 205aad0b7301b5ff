package bootstrap

import (
	"encoding/json"
	"errors"
	"slices"
	"sort"
)

// PolicyVersion is the IAM policy language version every document uses.
const PolicyVersion = "2012-10-17"

// PolicyDocument is an IAM policy (identity, trust or resource policy). It marshals to
// the JSON IAM expects; map keys are sorted by the encoder, so output is deterministic.
type PolicyDocument struct {
	Version   string      `json:"Version"`
	ID        string      `json:"Id,omitempty"`
	Statement []Statement `json:"Statement"`
}

// Statement is one policy statement. Action and Resource are always lists.
type Statement struct {
	Sid       string     `json:"Sid,omitempty"`
	Effect    string     `json:"Effect"`
	Principal *Principal `json:"Principal,omitempty"`
	Action    []string   `json:"Action"`
	Resource  []string   `json:"Resource,omitempty"`
	// Condition is operator → condition key → values.
	Condition Conditions `json:"Condition,omitempty"`
}

// Conditions is a statement's Condition block: operator → key → values.
type Conditions map[string]map[string][]string

// Operators returns the condition operators, sorted.
func (c Conditions) Operators() []string {
	out := make([]string, 0, len(c))
	for op := range c {
		out = append(out, op)
	}
	sort.Strings(out)
	return out
}

// Keys returns the condition keys of one operator, sorted.
func (c Conditions) Keys(op string) []string {
	out := make([]string, 0, len(c[op]))
	for k := range c[op] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// add sets operator/key to values.
func (c Conditions) add(op, key string, values ...string) Conditions {
	if c[op] == nil {
		c[op] = map[string][]string{}
	}
	c[op][key] = values
	return c
}

// Principal is a statement's principal: everyone ("*"), AWS services or a federated
// identity provider.
type Principal struct {
	Any       bool     `json:"-"`
	Service   []string `json:"Service,omitempty"`
	Federated []string `json:"Federated,omitempty"`
}

// MarshalJSON writes "*" for Any, else the object form.
func (p Principal) MarshalJSON() ([]byte, error) {
	if p.Any {
		return []byte(`"*"`), nil
	}
	type plain Principal
	return json.Marshal(plain(p))
}

// UnmarshalJSON reads "*" or the object form (single strings or lists).
func (p *Principal) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != "*" {
			return errors.New(`a string principal must be "*"`)
		}
		*p = Principal{Any: true}
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*p = Principal{}
	for k, v := range raw {
		var vals []string
		if json.Unmarshal(v, &vals) != nil {
			var one string
			if err := json.Unmarshal(v, &one); err != nil {
				return err
			}
			vals = []string{one}
		}
		switch k {
		case "Service":
			p.Service = vals
		case "Federated":
			p.Federated = vals
		default:
			return errors.New("unsupported principal type " + k)
		}
	}
	return nil
}

// JSON returns the compact JSON form of the document (what the IAM, SQS and CLI calls
// take).
func (d *PolicyDocument) JSON() string {
	b, err := json.Marshal(d)
	if err != nil {
		// Only strings, lists and maps of strings: marshalling cannot fail.
		panic(err)
	}
	return string(b)
}

// IndentedJSON returns the document as indented JSON for files a human reads.
func (d *PolicyDocument) IndentedJSON() string {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b)
}

// SamePolicy reports whether two policy JSON documents mean the same: key order,
// whitespace, a single string versus a one-element list, and the order of values in a
// list do not matter. IAM returns documents as they were sent (URL-encoded); callers
// decode them first.
func SamePolicy(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(normalize(x))
	yb, _ := json.Marshal(normalize(y))
	return string(xb) == string(yb)
}

// normalize turns one-element lists into their element and sorts lists of strings, so
// that equivalent spellings compare equal.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = normalize(x)
		}
		return out
	case []any:
		if len(t) == 1 {
			return normalize(t[0])
		}
		out := make([]any, len(t))
		strs := make([]string, 0, len(t))
		for i, x := range t {
			out[i] = normalize(x)
			if s, ok := out[i].(string); ok {
				strs = append(strs, s)
			}
		}
		if len(strs) == len(t) {
			slices.Sort(strs)
			for i, s := range strs {
				out[i] = s
			}
		}
		return out
	}
	return v
}
