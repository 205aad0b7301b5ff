package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// GroupStats counts the nodes and pods of one group.
type GroupStats struct {
	Nodes int
	// Pods counts non-DaemonSet, non-mirror pods bound to the group's nodes.
	Pods int
}

// Stats counts nodes and pods per group name.
func (s *Snapshot) Stats() map[string]GroupStats {
	out := make(map[string]GroupStats, len(s.Groups))
	nodeGroup := make(map[string]string, len(s.Nodes))
	for _, n := range s.Nodes {
		nodeGroup[n.Name] = n.Group
		if n.Group != "" {
			st := out[n.Group]
			st.Nodes++
			out[n.Group] = st
		}
	}
	for _, p := range s.Pods {
		g := nodeGroup[p.NodeName]
		if g == "" || p.DaemonSet || p.Mirror {
			continue
		}
		st := out[g]
		st.Pods++
		out[g] = st
	}
	return out
}

// Group returns the group with the given name, or nil.
func (s *Snapshot) Group(name string) *Group {
	for i := range s.Groups {
		if s.Groups[i].Name == name {
			return &s.Groups[i]
		}
	}
	return nil
}

// Fingerprint hashes the parts of a snapshot whose change should stop a cutover made
// from an older plan: the cluster, the groups (sizes, templates, CA view) with their
// launch templates, and Cluster Autoscaler's settings. Nodes and pods are left out:
// they change all the time and are re-read live.
func Fingerprint(s *Snapshot) (string, error) {
	if s == nil {
		s = &Snapshot{}
	}
	if err := s.checkFloats(); err != nil {
		return "", fmt.Errorf("copying snapshot: %w", err)
	}
	// Copy (and sort) only what is hashed: the nodes and pods are most of a snapshot.
	c := &Snapshot{Cluster: Cluster{Name: s.Cluster.Name},
		Groups:          each(s.Groups, (*Group).clone),
		LaunchTemplates: each(s.LaunchTemplates, (*LaunchTemplate).clone),
		Autoscaler:      ptrTo(s.Autoscaler, (*Autoscaler).clone)}
	c.Sort()
	for i := range c.Groups {
		if a := c.Groups[i].ASG; a != nil {
			a.Instances = nil // instances come and go; the sizes are what matter
		}
	}
	var ca *CAFlags
	if c.Autoscaler != nil {
		ca = &c.Autoscaler.Flags
	}
	b, err := json.Marshal(struct {
		Cluster         string           `json:"cluster"`
		Groups          []Group          `json:"groups"`
		LaunchTemplates []LaunchTemplate `json:"launchTemplates"`
		Flags           *CAFlags         `json:"flags"`
	}{c.Cluster.Name, c.Groups, c.LaunchTemplates, ca})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
