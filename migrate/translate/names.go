package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// maxName keeps object names usable as label values (karpenter.sh/nodepool=<name>).
const maxName = 63

// objectName turns a group name into a lower-case DNS-1123 label of at most 63
// characters. Names that had to be shortened get a hash suffix so two long names that
// share a prefix stay distinct.
func objectName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		out = "pool"
	}
	if len(out) > maxName {
		sum := sha256.Sum256([]byte(s))
		out = strings.TrimRight(out[:maxName-9], "-") + "-" + hex.EncodeToString(sum[:])[:8]
	}
	return out
}

// mergedName names a NodePool that replaces several groups: their common prefix, cut
// back to a separator and stripped of region or zone parts (workers-us-east-1a,
// workers-us-east-1b → workers), else the first name.
func mergedName(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	p := names[0]
	for _, n := range names[1:] {
		for !strings.HasPrefix(n, p) {
			p = p[:len(p)-1]
		}
	}
	if p != names[0] {
		// The prefix may end inside a word (api-a, api-b → "api-"; web1, web2 → "web").
		if i := strings.LastIndexAny(p, "-_."); i >= 0 {
			p = p[:i]
		}
	}
	for {
		p = strings.TrimRight(p, "-_.")
		i := strings.LastIndexAny(p, "-_.")
		if i < 0 || !regionPart(p[i+1:]) {
			break
		}
		p = p[:i]
	}
	if len(p) < 2 {
		// Nothing in common: name the pool after all its groups (shortened with a
		// hash by objectName when too long).
		return strings.Join(names, "-")
	}
	return p
}

var regionWords = map[string]bool{
	"us": true, "eu": true, "ap": true, "sa": true, "ca": true, "me": true, "af": true, "il": true, "mx": true, "cn": true, "gov": true,
	"east": true, "west": true, "north": true, "south": true, "central": true,
	"northeast": true, "southeast": true, "northwest": true, "southwest": true,
	"az": true, "zone": true,
}

var zonePart = regexp.MustCompile(`^([0-9]+[a-z]?|az[0-9]+|[a-z][0-9]?)$`)

// regionPart reports whether one dash-separated part of a name is a piece of a region
// or zone name ("us", "east", "1a", "az1") or a single-letter zone suffix ("a").
func regionPart(s string) bool {
	return regionWords[s] || zonePart.MatchString(s)
}

// uniqueNames resolves name clashes deterministically: the first holder (in the given
// order) keeps the name, later ones get -2, -3, ...
func uniqueNames(names []string, taken map[string]bool) []string {
	out := make([]string, len(names))
	for i, n := range names {
		cand := n
		for k := 2; taken[cand]; k++ {
			suffix := "-" + itoa(k)
			base := n
			if len(base)+len(suffix) > maxName {
				base = strings.TrimRight(base[:maxName-len(suffix)], "-")
			}
			cand = base + suffix
		}
		taken[cand] = true
		out[i] = cand
	}
	return out
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
