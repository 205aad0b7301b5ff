package cutover

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The journal is the ConfigMap karpshift-state: a record of what a run did and of the
// values a rollback needs (sizes and replicas before). It is never the truth about
// progress: Checks read the cluster. Keys are flat so that the shell runbook reads and
// writes the same record (ks_journal_get / ks_journal_set):
//
//	cluster                  the EKS cluster
//	autoscaler.replicas      Cluster Autoscaler's replicas before the pause
//	autoscaler.deployment    its namespace/name
//	group.<g>.kind           managed | self-managed
//	group.<g>.asgs           its Auto Scaling groups, comma-separated
//	group.<g>.sizes          "min max desired" before the migration
//	group.<g>.state          migrating | scaled-down
//	group.<g>.owners         JSON: the workloads whose pods were evicted, and their counts
//	override.<name>          an explicit safety override used (disable-eviction), with who and when
//	step.<id>                when a step was done
const (
	keyCluster              = "cluster"
	keyAutoscalerReplicas   = "autoscaler.replicas"
	keyAutoscalerDeployment = "autoscaler.deployment"
	stateMigrating          = "migrating"
	stateScaledDown         = "scaled-down"
)

// JournalKey builds a journal key from parts; characters a ConfigMap key cannot hold
// become "_" and "/" becomes ".".
func JournalKey(parts ...string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
				return r
			case r == '/':
				return '.'
			}
			return '_'
		}, p)
	}
	return strings.Join(out, ".")
}

func groupKey(group, field string) string { return JournalKey("group", group, field) }

// Journal reads and writes the journal ConfigMap.
type Journal struct{ env *Env }

// Journal returns the env's journal.
func (e *Env) Journal() Journal { return Journal{env: e} }

// Load returns the journal's data (empty when there is none yet).
func (j Journal) Load(ctx context.Context) (map[string]string, error) {
	cm, err := j.env.c().Kube.CoreV1().ConfigMaps(j.env.namespace()).Get(ctx, StateName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the journal %s/%s: %w", j.env.namespace(), StateName, err)
	}
	if cm.Data == nil {
		return map[string]string{}, nil
	}
	return cm.Data, nil
}

// Get returns one value ("" when absent).
func (j Journal) Get(ctx context.Context, key string) (string, error) {
	d, err := j.Load(ctx)
	if err != nil {
		return "", err
	}
	return d[key], nil
}

// Set merges values into the journal, creating it when needed; a nil value removes
// the key. A merge patch needs no read-modify-write, so concurrent writers of
// different keys never conflict.
func (j Journal) Set(ctx context.Context, values map[string]*string) error {
	cms := j.env.c().Kube.CoreV1().ConfigMaps(j.env.namespace())
	patch, err := json.Marshal(map[string]any{"data": values})
	if err != nil {
		return err
	}
	for range 3 {
		_, err = cms.Patch(ctx, StateName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
		if !apierrors.IsNotFound(err) {
			break
		}
		data := map[string]string{}
		for k, v := range values {
			if v != nil {
				data[k] = *v
			}
		}
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: StateName, Namespace: j.env.namespace(), Labels: map[string]string{LabelManagedBy: FieldManager}},
			Data:       data,
		}
		_, err = cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: FieldManager})
		if !apierrors.IsAlreadyExists(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("writing the journal %s/%s: %w", j.env.namespace(), StateName, err)
	}
	return nil
}

// set1 sets one key.
func (j Journal) set1(ctx context.Context, key, value string) error {
	return j.Set(ctx, map[string]*string{key: &value})
}

// Sizes is a group's min, max and desired size.
type Sizes struct{ Min, Max, Desired int32 }

func (s Sizes) String() string { return fmt.Sprintf("%d %d %d", s.Min, s.Max, s.Desired) }

// ParseSizes reads "min max desired".
func ParseSizes(s string) (Sizes, error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return Sizes{}, fmt.Errorf("sizes %q: want \"min max desired\"", s)
	}
	var n [3]int32
	for i, x := range f {
		v, err := strconv.ParseInt(x, 10, 32)
		if err != nil {
			return Sizes{}, fmt.Errorf("sizes %q: %w", s, err)
		}
		n[i] = int32(v)
	}
	return Sizes{n[0], n[1], n[2]}, nil
}

// ownerRecord is a workload whose pods a drain evicted: its replacements must be
// Running elsewhere before the next batch and before the group is scaled down.
type ownerRecord struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	UID       string `json:"uid"`
	// Pods is how many pods the owner had, cluster-wide, before the eviction.
	Pods int `json:"pods"`
}

func (o ownerRecord) key() string { return o.Kind + "/" + o.Namespace + "/" + o.Name }

func decodeOwners(s string) ([]ownerRecord, error) {
	if s == "" {
		return nil, nil
	}
	var out []ownerRecord
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("journal owners: %w", err)
	}
	return out, nil
}

func encodeOwners(o []ownerRecord) string {
	b, _ := json.Marshal(o)
	return string(b)
}
