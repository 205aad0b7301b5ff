package cutover

import (
	"context"
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/karpshift/karpshift/migrate/cutover/script"
)

// autoscalerRef is the Cluster Autoscaler deployment.
type autoscalerRef struct {
	Namespace, Name string
	// Replicas is what the snapshot saw, the fallback record when the deployment is
	// already at zero and the journal has nothing.
	Replicas int32
}

func (sp *spec) autoscaler() autoscalerRef {
	if sp.snap != nil && sp.snap.Autoscaler != nil && sp.snap.Autoscaler.Deployment != "" {
		a := sp.snap.Autoscaler
		return autoscalerRef{a.Namespace, a.Deployment, a.Replicas}
	}
	return autoscalerRef{"kube-system", "cluster-autoscaler", 1}
}

func (e *Env) deployment(ctx context.Context, ns, name string) (*appsv1.Deployment, error) {
	d, err := e.c().Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading deployment %s/%s: %w", ns, name, err)
	}
	return d, nil
}

func (e *Env) scaleDeployment(ctx context.Context, ns, name string, replicas int32) error {
	patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
	_, err := e.c().Kube.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("scaling deployment %s/%s to %d: %w", ns, name, replicas, err)
	}
	return nil
}

func specReplicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// pauseStep records Cluster Autoscaler's replicas in the journal, then scales it to 0,
// and is Done when no autoscaler pod is left: the competitor is stopped before the
// first cordon.
type pauseStep struct {
	base
	ca autoscalerRef
}

func (sp *spec) pauseAutoscaler() Step {
	ca := sp.autoscaler()
	return &pauseStep{
		base: sp.base("pause/cluster-autoscaler", fmt.Sprintf("Pause Cluster Autoscaler %s/%s: record its replicas in the journal, scale it to 0", ca.Namespace, ca.Name), PhasePauseAutoscaler),
		ca:   ca,
	}
}

func (s *pauseStep) Timeout() time.Duration { return 5 * time.Minute }

func (s *pauseStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	d, err := env.deployment(ctx, s.ca.Namespace, s.ca.Name)
	if err != nil {
		return Status{}, err
	}
	if d == nil {
		return DoneStatus(fmt.Sprintf("no deployment %s/%s: nothing to pause", s.ca.Namespace, s.ca.Name)), nil
	}
	rec, err := env.Journal().Get(ctx, keyAutoscalerReplicas)
	if err != nil {
		return Status{}, err
	}
	switch {
	case specReplicas(d) != 0 || rec == "":
		return PendingStatus(fmt.Sprintf("Cluster Autoscaler runs %d replicas", specReplicas(d))), nil
	case d.Status.Replicas != 0:
		return PendingStatus(fmt.Sprintf("%d Cluster Autoscaler pods are still terminating", d.Status.Replicas)), nil
	}
	return DoneStatus(fmt.Sprintf("Cluster Autoscaler is at 0 (it ran %s; rollback restores that)", rec)), nil
}

func (s *pauseStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	d, err := env.deployment(ctx, s.ca.Namespace, s.ca.Name)
	if err != nil || d == nil {
		return err
	}
	rec, err := env.Journal().Get(ctx, keyAutoscalerReplicas)
	if err != nil {
		return err
	}
	if rec == "" {
		// Record first: a crash after the scale must not lose the number to restore.
		n := specReplicas(d)
		if n == 0 {
			n = s.ca.Replicas
			env.emit(Event{Type: Warning, Step: s.id, Message: fmt.Sprintf("Cluster Autoscaler was already at 0; recording the %d replicas the snapshot saw for rollback", n)})
		}
		v, dep := strconv.Itoa(int(n)), s.ca.Namespace+"/"+s.ca.Name
		if err := env.Journal().Set(ctx, map[string]*string{keyAutoscalerReplicas: &v, keyAutoscalerDeployment: &dep}); err != nil {
			return err
		}
	}
	if specReplicas(d) == 0 {
		return nil
	}
	return env.scaleDeployment(ctx, s.ca.Namespace, s.ca.Name, 0)
}

func (s *pauseStep) Script() script.Script {
	ns, name := quote(s.ca.Namespace), quote(s.ca.Name)
	return script.Script{
		Done: fmt.Sprintf(`! kubectl -n %s get deployment %s >/dev/null 2>&1 || [[ "$(ks_replicas %s %s)" == 0 && -n "$(ks_journal_get %s)" ]]`, ns, name, ns, name, keyAutoscalerReplicas),
		Apply: []string{
			fmt.Sprintf(`if [[ -z "$(ks_journal_get %s)" ]]; then ks_journal_set %s "$(ks_replicas %s %s)"; ks_journal_set %s %s; fi`, keyAutoscalerReplicas, keyAutoscalerReplicas, ns, name, keyAutoscalerDeployment, quote(s.ca.Namespace+"/"+s.ca.Name)),
			fmt.Sprintf("kubectl -n %s scale deployment %s --replicas=0", ns, name),
		},
		Wait: scriptWait(fmt.Sprintf(`[[ "$(ks_running_replicas %s %s)" == 0 ]]`, ns, name), "the Cluster Autoscaler pods to stop", 5*time.Minute),
	}
}

// resumeStep scales Cluster Autoscaler back to the replicas the journal recorded, and
// then forgets the record.
type resumeStep struct {
	base
	ca autoscalerRef
}

func (s *resumeStep) Check(ctx context.Context) (Status, error) {
	env, err := s.env()
	if err != nil {
		return Status{}, err
	}
	rec, err := env.Journal().Get(ctx, keyAutoscalerReplicas)
	if err != nil {
		return Status{}, err
	}
	if rec == "" {
		return DoneStatus("the journal records no paused Cluster Autoscaler"), nil
	}
	return PendingStatus("Cluster Autoscaler is to be restored to " + rec + " replicas"), nil
}

func (s *resumeStep) Apply(ctx context.Context) error {
	env, err := s.env()
	if err != nil {
		return err
	}
	rec, err := env.Journal().Get(ctx, keyAutoscalerReplicas)
	if err != nil || rec == "" {
		return err
	}
	n, err := strconv.Atoi(rec)
	if err != nil {
		return fmt.Errorf("journal %s=%q: %w", keyAutoscalerReplicas, rec, err)
	}
	d, err := env.deployment(ctx, s.ca.Namespace, s.ca.Name)
	if err != nil {
		return err
	}
	if d == nil {
		env.emit(Event{Type: Warning, Step: s.id, Message: fmt.Sprintf("deployment %s/%s is gone: nothing to restore", s.ca.Namespace, s.ca.Name)})
	} else if specReplicas(d) != int32(n) {
		if err := env.scaleDeployment(ctx, s.ca.Namespace, s.ca.Name, int32(n)); err != nil {
			return err
		}
	}
	return env.Journal().Set(ctx, map[string]*string{keyAutoscalerReplicas: nil, keyAutoscalerDeployment: nil})
}

func (s *resumeStep) Script() script.Script {
	ns, name := quote(s.ca.Namespace), quote(s.ca.Name)
	return script.Script{
		Done: fmt.Sprintf(`[[ -z "$(ks_journal_get %s)" ]]`, keyAutoscalerReplicas),
		Apply: []string{
			fmt.Sprintf(`kubectl -n %s scale deployment %s --replicas="$(ks_journal_get %s)"`, ns, name, keyAutoscalerReplicas),
			fmt.Sprintf(`kubectl -n "$KS_NS" patch configmap "$KS_STATE" --type merge -p '{"data":{"%s":null,"%s":null}}'`, keyAutoscalerReplicas, keyAutoscalerDeployment),
		},
	}
}
