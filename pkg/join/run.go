package join

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

var forbiddenRemedy = map[Step]string{
	StepCordon: "the node's credentials must allow patching its own Node (NodeRestriction and the system:node role do): check the cluster's RBAC, or cordon it as a cluster administrator",
	StepLabels: "a node may not set labels under kubernetes.io or k8s.io outside the kubelet's allow-list: remove them from nodePool.labels or set them as a cluster administrator",
}

// DefaultTimeout is how long Run waits when Deps.Timeout is zero; it is the
// default of install --timeout.
const DefaultTimeout = 10 * time.Minute

// requestTimeout bounds one API request while waiting, so a dead link is
// noticed and retried rather than hanging until the deadline.
const requestTimeout = 10 * time.Second

// Result is what a join did and found, for install's report.
type Result struct {
	Node               string     `json:"node"`
	UID                string     `json:"uid"`
	FirstJoin          bool       `json:"firstJoin"`
	Cordoned           bool       `json:"cordoned"` // this run set spec.unschedulable
	LabelsSet          []string   `json:"labelsSet,omitempty"`
	LabelsRemoved      []string   `json:"labelsRemoved,omitempty"`
	TaintDrift         TaintDrift `json:"taintDrift"`
	CredentialsRenewed bool       `json:"credentialsRenewed,omitempty"`
	// UninstallMarkCleared: the Node carried LabelUninstalled from an
	// earlier uninstall, which this join took off.
	UninstallMarkCleared bool `json:"uninstallMarkCleared,omitempty"`
	Changed              bool `json:"changed"`
}

// Run waits for the kubelet's TLS bootstrap and its Node, applies the
// initial cordon (first join only) and the pool's labels as soon as the Node
// exists, reports taint drift, and waits for Ready. A wait that outlasts
// Deps.Timeout ends in a *TimeoutError naming the step that stalled.
func Run(ctx context.Context, d Deps, rec phase.Recorder) (Result, error) {
	j, ctx, cancel, err := newJoiner(ctx, d)
	if err != nil {
		return Result{}, err
	}
	defer cancel()

	client, node, err := j.waitRegistered(ctx)
	if err != nil {
		return j.res, err
	}
	if err := j.firstJoin(rec, node); err != nil {
		return j.res, err
	}
	if err := j.clearUninstalled(ctx, client, node); err != nil {
		return j.res, err
	}
	if err := j.cordon(ctx, rec, client, node); err != nil {
		return j.res, err
	}
	if err := j.labels(ctx, rec, client, node); err != nil {
		return j.res, err
	}
	j.taints(node)
	if err := j.waitReady(ctx, client); err != nil {
		return j.res, err
	}
	r := j.res
	r.Changed = r.Cordoned || len(r.LabelsSet) > 0 || len(r.LabelsRemoved) > 0 || r.CredentialsRenewed || r.UninstallMarkCleared
	return r, nil
}

// newJoiner checks d and bounds ctx by its timeout (DefaultTimeout when
// unset), the deadline every wait of Run and AwaitReady shares.
func newJoiner(ctx context.Context, d Deps) (*joiner, context.Context, context.CancelFunc, error) {
	if err := d.check(); err != nil {
		return nil, ctx, func() {}, err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	j := &joiner{d: d, log: d.log().WithField("node", d.NodeName), timeout: timeout, res: Result{Node: d.NodeName}}
	return j, ctx, cancel, nil
}

type joiner struct {
	d       Deps
	log     logrus.FieldLogger
	timeout time.Duration
	res     Result
	// last is what the current step saw last, the reason if it times out.
	last string
}

func (j *joiner) observe(s string) {
	if s != j.last {
		j.log.Debug(s)
	}
	j.last = s
}

// stalled turns the end of the wait into the error the operator reads.
func (j *joiner) stalled(ctx context.Context, step Step, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{Node: j.d.NodeName, Step: step, Reason: j.last, Timeout: j.timeout}
	}
	return fmt.Errorf("join of node %s stopped at %s: %w", j.d.NodeName, step, err)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// waitBootstrap waits for the kubelet to finish its TLS bootstrap: it writes
// its client certificate, then kubelet.conf pointing at it.
func (j *joiner) waitBootstrap(ctx context.Context) error {
	j.log.WithField("kubeconfig", paths.KubeletKubeconfig).Info("waiting for the kubelet's TLS bootstrap")
	j.last = "no client certificate yet: the CSR is not approved/signed"
	err := poll(ctx, j.d.Backoff, func(context.Context) (bool, error) {
		return exists(j.d.Root.Path(paths.KubeletKubeconfig)) && exists(j.d.Root.Path(ClientCert)), nil
	})
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			j.last = j.diagnoseBootstrap()
		}
		return j.stalled(ctx, StepBootstrap, err)
	}
	return nil
}

// waitRegistered waits for the Node object, renewing stale credentials once
// when the install gave a way to restart the kubelet.
func (j *joiner) waitRegistered(ctx context.Context) (kubeclient.Interface, *corev1.Node, error) {
	for attempt := 0; ; attempt++ {
		if err := j.waitBootstrap(ctx); err != nil {
			return nil, nil, err
		}
		client, err := j.d.client(paths.KubeletKubeconfig, requestTimeout)
		stale := ""
		var node *corev1.Node
		if err != nil {
			stale = err.Error()
		} else {
			j.log.WithField("node", j.d.NodeName).Info("waiting for the Node to be registered")
			j.last = "node not registered"
			err = pollNode(ctx, j.d.Backoff, client, j.d.NodeName, func(ctx context.Context) (bool, error) {
				n, err := client.Nodes().Get(ctx, j.d.NodeName, metav1.GetOptions{})
				switch {
				case err == nil:
					node = n
					return true, nil
				case apierrors.IsNotFound(err):
					j.observe("node not registered: the API server has no Node " + j.d.NodeName + " yet")
				case apierrors.IsUnauthorized(err):
					stale = "the API server rejects the client certificate in " + paths.KubeletKubeconfig + " (401)"
					return true, nil
				case apierrors.IsForbidden(err):
					j.observe(fmt.Sprintf("node not registered: the API server refuses to show Node %s to this node's certificate (is the kubelet's node name %s?): %v", j.d.NodeName, j.d.NodeName, err))
				default:
					j.observe(fmt.Sprintf("node not registered: the API server does not answer: %v", err))
				}
				return false, nil
			})
			if err != nil {
				return nil, nil, j.stalled(ctx, StepRegister, err)
			}
		}
		if stale == "" {
			return client, node, nil
		}
		if j.d.RestartKubelet == nil || attempt > 0 {
			return nil, nil, &StaleCredentialsError{Node: j.d.NodeName, Reason: stale}
		}
		j.log.WithField("reason", stale).Warn("kubelet credentials are stale; removing them so the kubelet bootstraps again")
		if err := RemoveStaleCredentials(j.d.Root); err != nil {
			return nil, nil, err
		}
		if err := j.d.RestartKubelet(ctx); err != nil {
			return nil, nil, fmt.Errorf("restart the kubelet after removing its stale credentials: %w", err)
		}
		j.res.CredentialsRenewed = true
	}
}

// firstJoin records the Node's identity; a Node seen for the first time (new
// host, or the Node was deleted and registered again) gets the first-join
// treatment: initial cordon, and its registered taints remembered.
func (j *joiner) firstJoin(rec phase.Recorder, node *corev1.Node) error {
	uid := string(node.UID)
	j.res.UID = uid
	if j.d.fact(KeyNodeUID) == uid {
		return nil
	}
	j.res.FirstJoin = true
	keys := make([]string, 0, len(j.d.Config.NodePool.Taints))
	for _, t := range j.d.Config.NodePool.Taints {
		keys = append(keys, t.Key)
	}
	if err := setList(rec, KeyTaints, keys); err != nil {
		return err
	}
	if err := rec.Set(KeyNodeUID, uid); err != nil {
		return fmt.Errorf("record %s in the journal: %w", KeyNodeUID, err)
	}
	return nil
}

// cordon marks a Node unschedulable once, at its first join, so a user
// script (or an operator) that uncordons it is not overridden by a re-run.
func (j *joiner) cordon(ctx context.Context, rec phase.Recorder, c kubeclient.Interface, node *corev1.Node) error {
	uid := string(node.UID)
	if !j.d.Config.NodePool.Cordon || j.d.fact(KeyCordoned) == uid {
		return nil
	}
	if !node.Spec.Unschedulable {
		j.log.WithField("node", node.Name).Info("cordoning the Node (nodePool.cordon: true, first join)")
		if err := j.patch(ctx, StepCordon, c, []byte(`{"spec":{"unschedulable":true}}`)); err != nil {
			return err
		}
		j.res.Cordoned = true
	}
	if err := rec.Set(KeyCordoned, uid); err != nil {
		return fmt.Errorf("record %s in the journal: %w", KeyCordoned, err)
	}
	return nil
}

// labels reconciles the labels the pool owns. The journal first learns the
// union of old and new keys, so a crash mid-way never forgets a key the pool
// may have applied.
func (j *joiner) labels(ctx context.Context, rec phase.Recorder, c kubeclient.Interface, node *corev1.Node) error {
	desired := j.d.Config.NodePool.Labels
	owned := j.d.factList(KeyLabels)
	plan := PlanLabels(node.Labels, desired, owned)
	if !plan.Empty() {
		if err := setListIfChanged(rec, KeyLabels, owned, unionKeys(owned, desired)); err != nil {
			return err
		}
		patch, err := plan.MergePatch()
		if err != nil {
			return err
		}
		j.log.WithFields(logrus.Fields{"node": node.Name, "set": sortedKeys(plan.Set), "remove": plan.Remove}).Info("reconciling the Node's labels")
		if err := j.patch(ctx, StepLabels, c, patch); err != nil {
			return err
		}
		j.res.LabelsSet, j.res.LabelsRemoved = sortedKeys(plan.Set), plan.Remove
		owned = unionKeys(owned, desired)
	}
	return setListIfChanged(rec, KeyLabels, owned, sortedKeys(desired))
}

func setListIfChanged(rec phase.Recorder, key string, old, v []string) error {
	if equalStrings(old, v) {
		return nil
	}
	return setList(rec, key, v)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// taints reports drift; the node may not change its own taints.
func (j *joiner) taints(node *corev1.Node) {
	drift := DiffTaints(node.Spec.Taints, j.d.Config.NodePool.Taints, j.d.factList(KeyTaints))
	j.res.TaintDrift = drift
	if drift.Empty() {
		return
	}
	j.log.WithField("missing", taintStrings(drift.Missing)).
		WithField("unexpected", taintStrings(drift.Unexpected)).
		Warn("the Node's taints differ from nodePool.taints; a node may set its taints only when it registers: change them with kubectl as a cluster administrator, or delete the Node and run install again")
}

// patch applies a merge patch to the Node with the node's own credentials,
// retrying while the API server is unreachable.
func (j *joiner) patch(ctx context.Context, step Step, c kubeclient.Interface, patch []byte) error {
	var fatal error
	j.last = "the API server did not accept the change yet"
	err := poll(ctx, j.d.Backoff, func(ctx context.Context) (bool, error) {
		_, err := c.Nodes().Patch(ctx, j.d.NodeName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "add2tkectl"})
		switch {
		case err == nil:
			return true, nil
		case apierrors.IsForbidden(err):
			fatal = fmt.Errorf("the API server refused to %s Node %s with the node's credentials: %w; %s", step, j.d.NodeName, err, forbiddenRemedy[step])
			return true, nil
		case apierrors.IsInvalid(err):
			fatal = fmt.Errorf("the API server refused to %s Node %s: %w; correct nodePool in the configuration", step, j.d.NodeName, err)
			return true, nil
		}
		j.observe(fmt.Sprintf("cannot %s Node %s: %v", step, j.d.NodeName, err))
		return false, nil
	})
	if err != nil {
		return j.stalled(ctx, step, err)
	}
	return fatal
}

// waitReady waits for the Node's Ready condition.
func (j *joiner) waitReady(ctx context.Context, c kubeclient.Interface) error {
	j.log.WithField("node", j.d.NodeName).Info("waiting for the Node to be Ready")
	j.last = "NotReady: the kubelet has not reported a Ready condition yet"
	err := pollNode(ctx, j.d.Backoff, c, j.d.NodeName, func(ctx context.Context) (bool, error) {
		n, err := c.Nodes().Get(ctx, j.d.NodeName, metav1.GetOptions{})
		if err != nil {
			// A read cut short by the deadline itself says nothing: the
			// reason the operator reads stays the last one the Node gave.
			if ctx.Err() == nil && !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "would exceed context deadline") {
				j.observe(fmt.Sprintf("NotReady: cannot read Node %s: %v", j.d.NodeName, err))
			}
			return false, nil
		}
		ready, reason := j.d.nodeReady(ctx, n)
		if ready {
			return true, nil
		}
		j.observe("NotReady: " + reason)
		return false, nil
	})
	if err != nil {
		return j.stalled(ctx, StepReady, err)
	}
	return nil
}
