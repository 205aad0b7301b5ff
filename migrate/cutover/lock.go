package cutover

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// DefaultLeaseDuration is how long a lock holds without renewal. A live run renews it
// at every wait; a crashed run's lock expires after this long.
const DefaultLeaseDuration = 60 * time.Second

// leaseLock is the coordination.k8s.io Lease that keeps a second executor out.
type leaseLock struct {
	env      *Env
	identity string
	duration time.Duration

	mu      sync.Mutex
	renewed time.Time
	// renewing serializes renewIfDue: the steps' waits (one per pod being evicted) all
	// beat at once, and concurrent renewals made each other's updates conflict until
	// one gave up ("it kept changing under us") and failed the run.
	renewing sync.Mutex
}

func (l *leaseLock) heldByOther(le *coordinationv1.Lease) *LockedError {
	holder := ptr.Deref(le.Spec.HolderIdentity, "")
	if holder == "" || holder == l.identity {
		return nil
	}
	var renewed time.Time
	switch {
	case le.Spec.RenewTime != nil:
		renewed = le.Spec.RenewTime.Time
	case le.Spec.AcquireTime != nil:
		renewed = le.Spec.AcquireTime.Time
	}
	d := time.Duration(ptr.Deref(le.Spec.LeaseDurationSeconds, int32(DefaultLeaseDuration/time.Second))) * time.Second
	expires := renewed.Add(d)
	if !renewed.IsZero() && !l.env.now().Before(expires) {
		return nil // expired: its holder is gone
	}
	return &LockedError{Namespace: l.env.namespace(), Name: LeaseName, Holder: holder, RenewedAt: renewed, Expires: expires}
}

// checkFree returns a *LockedError when another live run holds the lock (dry-run).
func (l *leaseLock) checkFree(ctx context.Context) error {
	le, err := l.env.Clients.Kube.CoordinationV1().Leases(l.env.namespace()).Get(ctx, LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the lock %s/%s: %w", l.env.namespace(), LeaseName, err)
	}
	if le := l.heldByOther(le); le != nil {
		return le
	}
	return nil
}

// acquire takes the lock or returns a *LockedError naming its holder. Writes use the
// live clients: the lock is real even when the steps are not.
func (l *leaseLock) acquire(ctx context.Context) error {
	leases := l.env.Clients.Kube.CoordinationV1().Leases(l.env.namespace())
	now := metav1.NewMicroTime(l.env.now())
	secs := int32(l.duration / time.Second)
	for range 3 {
		le, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			le = &coordinationv1.Lease{
				ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: l.env.namespace(), Labels: map[string]string{LabelManagedBy: FieldManager}},
				Spec: coordinationv1.LeaseSpec{
					HolderIdentity: ptr.To(l.identity), LeaseDurationSeconds: &secs, AcquireTime: &now, RenewTime: &now,
				},
			}
			_, err = leases.Create(ctx, le, metav1.CreateOptions{FieldManager: FieldManager})
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			if err != nil {
				return fmt.Errorf("creating the lock %s/%s: %w", l.env.namespace(), LeaseName, err)
			}
			l.markRenewed()
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the lock %s/%s: %w", l.env.namespace(), LeaseName, err)
		}
		if other := l.heldByOther(le); other != nil {
			return other
		}
		if ptr.Deref(le.Spec.HolderIdentity, "") != l.identity {
			le.Spec.AcquireTime = &now
			le.Spec.LeaseTransitions = ptr.To(ptr.Deref(le.Spec.LeaseTransitions, 0) + 1)
		}
		le.Spec.HolderIdentity = ptr.To(l.identity)
		le.Spec.LeaseDurationSeconds = &secs
		le.Spec.RenewTime = &now
		_, err = leases.Update(ctx, le, metav1.UpdateOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) {
			continue // someone else wrote it: look again
		}
		if err != nil {
			return fmt.Errorf("taking the lock %s/%s: %w", l.env.namespace(), LeaseName, err)
		}
		l.markRenewed()
		return nil
	}
	return fmt.Errorf("taking the lock %s/%s: it kept changing under us", l.env.namespace(), LeaseName)
}

func (l *leaseLock) markRenewed() {
	l.mu.Lock()
	l.renewed = l.env.now()
	l.mu.Unlock()
}

// renewIfDue renews the lock when a third of its duration has passed. It fails when
// another run took the lock over (ours expired): the run must stop.
func (l *leaseLock) renewIfDue(ctx context.Context) error {
	l.renewing.Lock()
	defer l.renewing.Unlock()
	l.mu.Lock()
	due := l.env.now().Sub(l.renewed) >= l.duration/3
	l.mu.Unlock()
	if !due {
		return nil
	}
	return l.acquire(ctx)
}

// release gives the lock up (holder cleared), when we still hold it.
func (l *leaseLock) release(ctx context.Context) error {
	leases := l.env.Clients.Kube.CoordinationV1().Leases(l.env.namespace())
	le, err := leases.Get(ctx, LeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("releasing the lock: %w", err)
	}
	if ptr.Deref(le.Spec.HolderIdentity, "") != l.identity {
		return nil
	}
	le.Spec.HolderIdentity = nil
	if _, err := leases.Update(ctx, le, metav1.UpdateOptions{FieldManager: FieldManager}); err != nil {
		return fmt.Errorf("releasing the lock: %w", err)
	}
	return nil
}
