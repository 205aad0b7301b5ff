package provision

import (
	corev1 "k8s.io/api/core/v1"
)

// domainFilter is the set of domains of one key a pod may use right now. Checking a
// node's single domain against it is far cheaper than the full topology check, which
// matters when one-at-a-time pods (zone spreads) pass many nodes of other zones.
type domainFilter struct {
	key     string
	allowed map[string]bool
}

// filters returns, for g's spreads, affinities and anti-affinities on keys other than
// the hostname, the domains the next pod of g may use. A node pinned to another domain
// would fail the topology check anyway: the filters never reject a node that check
// would accept.
func (tp *topology) filters(g *podGroup) []domainFilter {
	var out []domainFilter
	for _, t := range g.owned {
		if t.key == corev1.LabelHostname {
			continue
		}
		podDomains := g.strict.getOrExists(t.key)
		allowed := map[string]bool{}
		switch t.kind {
		case topoSpread:
			self := int32(0)
			if t.selectsGroup(g) {
				self = 1
			}
			minCount := t.domainMin(&podDomains)
			for _, d := range t.universe {
				if podDomains.has(d) && int64(t.domains[d]+self)-int64(minCount) <= int64(t.maxSkew) {
					allowed[d] = true
				}
			}
		case topoAffinity:
			if t.selectsGroup(g) && !t.anyCompatible(&podDomains) {
				continue // bootstrapping: any domain will do
			}
			for d, c := range t.domains {
				if c > 0 && podDomains.has(d) {
					allowed[d] = true
				}
			}
		case topoAntiAffinity:
			for _, d := range t.universe {
				if t.domains[d] == 0 && podDomains.has(d) {
					allowed[d] = true
				}
			}
		}
		out = append(out, domainFilter{key: t.key, allowed: allowed})
	}
	return out
}

// admits reports whether n may pass the filters (nodes not pinned to a single domain
// always may: the full check decides).
func admits(filters []domainFilter, n *simNode) bool {
	for i := range filters {
		r, ok := n.reqs.get(filters[i].key)
		if !ok {
			continue
		}
		if v, single := r.single(); single && !filters[i].allowed[v] {
			return false
		}
	}
	return true
}
