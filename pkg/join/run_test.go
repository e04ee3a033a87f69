package join

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient/kubeclienttest"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

var configuredTaint = corev1.Taint{Key: "key1", Value: "value1", Effect: corev1.TaintEffectPreferNoSchedule}

func getNode(t *testing.T, c kubeclient.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := c.Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunCordonsOnlyAtFirstJoin(t *testing.T) {
	root := bootstrapped(t)
	c := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionTrue, "", ""),
		withLabels(map[string]string{config.LabelLocation: "idc-sh-01"}), withTaints(configuredTaint)))
	j := newJournal()
	d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.Config.NodePool.Cordon = true

	res, err := Run(context.Background(), d, j)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cordoned || !res.FirstJoin || !res.Changed || !getNode(t, c, "n1").Spec.Unschedulable {
		t.Fatalf("first join did not cordon: %+v", res)
	}
	if v, _ := j.Get(KeyCordoned); v != "uid-1" {
		t.Errorf("journal %s = %q, want the Node's UID", KeyCordoned, v)
	}
	if ok, err := Satisfied(context.Background(), d); err != nil || !ok {
		t.Errorf("Satisfied after the join = %v, %v; want true", ok, err)
	}

	// The user script uncordons; a later install must not cordon again.
	if _, err := c.Nodes().Patch(context.Background(), "n1", "application/merge-patch+json",
		[]byte(`{"spec":{"unschedulable":false}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := Satisfied(context.Background(), d); !ok {
		t.Error("Satisfied is false after an uncordon: the re-run would not be a no-op")
	}
	res, err = Run(context.Background(), d, j)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cordoned || res.FirstJoin || res.Changed || getNode(t, c, "n1").Spec.Unschedulable {
		t.Errorf("re-run cordoned an uncordoned node again: %+v", res)
	}
}

func TestRunCordonsANodeRegisteredAgain(t *testing.T) {
	root := bootstrapped(t)
	c := kubeclienttest.New(testNode("n1", "uid-2", ready(corev1.ConditionTrue, "", "")))
	j := newJournal()
	j.Set(KeyNodeUID, "uid-1")
	j.Set(KeyCordoned, "uid-1") // cordoned the Node that was deleted since
	d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.Config.NodePool.Cordon = true
	if ok, _ := Satisfied(context.Background(), d); ok {
		t.Error("Satisfied for a Node that has not had its first-join cordon")
	}
	res, err := Run(context.Background(), d, j)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FirstJoin || !res.Cordoned || !getNode(t, c, "n1").Spec.Unschedulable {
		t.Errorf("a new Node of the same name was not treated as a first join: %+v", res)
	}
}

func TestRunCordonsBeforeReady(t *testing.T) {
	root := bootstrapped(t)
	c := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionFalse, "KubeletNotReady", "cni plugin not initialized")))
	nodes := schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	var readyAtPatch *bool
	c.PrependReactor("patch", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if readyAtPatch == nil {
			n, _ := c.Tracker().Get(nodes, "", "n1")
			r, _ := readyCondition(n.(*corev1.Node))
			readyAtPatch = &r
		}
		return false, nil, nil
	})
	// The kubelet reports Ready some time after the cordon.
	c.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if readyAtPatch == nil {
			return false, nil, nil
		}
		n, err := c.Tracker().Get(nodes, "", "n1")
		if err != nil {
			return true, nil, err
		}
		ready(corev1.ConditionTrue, "KubeletReady", "")(n.(*corev1.Node))
		return true, n, nil
	})
	j := newJournal()
	d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.Config.NodePool.Cordon = true
	if _, err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if readyAtPatch == nil || *readyAtPatch {
		t.Errorf("the cordon was not applied while the Node was NotReady (ready at patch: %v)", readyAtPatch)
	}
}

func TestRunReconcilesOnlyTheLabelsThePoolOwns(t *testing.T) {
	root := bootstrapped(t)
	c := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionTrue, "", ""),
		withLabels(map[string]string{
			config.LabelLocation:     "idc-old",
			"pool.example.com/gone":  "x",
			"admin.example.com/team": "infra",
			"kubernetes.io/hostname": "n1",
		})))
	j := newJournal()
	j.Set(KeyNodeUID, "uid-1")
	j.Set(KeyLabels, `["pool.example.com/gone","tke.cloud.tencent.com/location"]`)
	d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.Config.NodePool.Labels = map[string]string{config.LabelLocation: "idc-sh-01", "pool.example.com/new": "y"}

	if ok, _ := Satisfied(context.Background(), d); ok {
		t.Error("Satisfied with labels that differ from the configuration")
	}
	res, err := Run(context.Background(), d, j)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		config.LabelLocation:     "idc-sh-01",
		"pool.example.com/new":   "y",
		"admin.example.com/team": "infra",
		"kubernetes.io/hostname": "n1",
	}
	got := getNode(t, c, "n1").Labels
	if len(got) != len(want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if v, _ := j.Get(KeyLabels); v != `["pool.example.com/new","tke.cloud.tencent.com/location"]` {
		t.Errorf("journal %s = %s", KeyLabels, v)
	}
	if strings.Join(res.LabelsRemoved, ",") != "pool.example.com/gone" || len(res.LabelsSet) != 2 || !res.Changed {
		t.Errorf("result = %+v", res)
	}
	if ok, err := Satisfied(context.Background(), d); err != nil || !ok {
		t.Errorf("Satisfied after reconcile = %v, %v", ok, err)
	}
}

func TestRunRefusedLabelSaysWhatToDo(t *testing.T) {
	root := bootstrapped(t)
	c := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionTrue, "", "")))
	c.PrependReactor("patch", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "n1", errors.New("is not allowed to modify labels: node-role.kubernetes.io/worker"))
	})
	j := newJournal()
	d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.Config.NodePool.Labels = map[string]string{"node-role.kubernetes.io/worker": ""}
	_, err := Run(context.Background(), d, j)
	var te *TimeoutError
	if err == nil || errors.As(err, &te) || !strings.Contains(err.Error(), "remove them from nodePool.labels") {
		t.Errorf("Run = %v; want an immediate error that says to remove the label", err)
	}
}

func TestRunReportsTaintDrift(t *testing.T) {
	root := bootstrapped(t)
	c := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionTrue, "", ""),
		withLabels(map[string]string{config.LabelLocation: "idc-sh-01"}),
		withTaints(corev1.Taint{Key: "key1", Value: "old", Effect: corev1.TaintEffectPreferNoSchedule})))
	j := newJournal()
	d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	res, err := Run(context.Background(), d, j)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TaintDrift.Missing) != 1 || len(res.TaintDrift.Unexpected) != 1 || res.TaintDrift.Unexpected[0].Value != "old" {
		t.Errorf("drift = %+v", res.TaintDrift)
	}
	if got := getNode(t, c, "n1").Spec.Taints; len(got) != 1 || got[0].Value != "old" {
		t.Errorf("taints were touched: %v", got)
	}
}

func TestRunTimeoutNamesTheStep(t *testing.T) {
	pendingCSR := csrFor(t, "n1", "csr-pending")
	denied := csrFor(t, "n1", "csr-denied")
	denied.Status.Conditions = append(denied.Status.Conditions, deniedCond())
	tests := []struct {
		name   string
		setup  func(t *testing.T) (Deps, *journal)
		step   Step
		reason string
	}{
		{"no bootstrap kubeconfig", func(t *testing.T) (Deps, *journal) {
			j := newJournal()
			return testDeps(t, emptyRoot(t), j, clients(nil)), j
		}, StepBootstrap, "no bootstrap kubeconfig"},
		{"CSR pending", func(t *testing.T) (Deps, *journal) {
			root := emptyRoot(t)
			writeFile(t, root, BootstrapKubeconfig, []byte("x"))
			j := newJournal()
			boot := kubeclienttest.New(pendingCSR, csrFor(t, "other-node", "csr-other"))
			return testDeps(t, root, j, clients(map[string]kubeclient.Interface{BootstrapKubeconfig: boot})), j
		}, StepBootstrap, "CSR pending: csr-pending awaits approval"},
		{"CSR denied", func(t *testing.T) (Deps, *journal) {
			root := emptyRoot(t)
			writeFile(t, root, BootstrapKubeconfig, []byte("x"))
			j := newJournal()
			boot := kubeclienttest.New(denied)
			return testDeps(t, root, j, clients(map[string]kubeclient.Interface{BootstrapKubeconfig: boot})), j
		}, StepBootstrap, "CSR csr-denied was denied"},
		{"bootstrap may not list CSRs", func(t *testing.T) (Deps, *journal) {
			root := emptyRoot(t)
			writeFile(t, root, BootstrapKubeconfig, []byte("x"))
			j := newJournal()
			boot := kubeclienttest.New()
			boot.PrependReactor("list", "certificatesigningrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "certificatesigningrequests"}, "", errors.New("no"))
			})
			return testDeps(t, root, j, clients(map[string]kubeclient.Interface{BootstrapKubeconfig: boot})), j
		}, StepBootstrap, "no client certificate yet: the CSR is not approved/signed"},
		{"node not registered", func(t *testing.T) (Deps, *journal) {
			j := newJournal()
			return testDeps(t, bootstrapped(t), j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: kubeclienttest.New()})), j
		}, StepRegister, "node not registered"},
		{"NotReady with the kubelet's reason", func(t *testing.T) (Deps, *journal) {
			j := newJournal()
			c := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready: cni plugin not initialized")))
			return testDeps(t, bootstrapped(t), j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c})), j
		}, StepReady, "NotReady: KubeletNotReady: container runtime network not ready: cni plugin not initialized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, j := tt.setup(t)
			d.Timeout = 100 * time.Millisecond
			_, err := Run(context.Background(), d, j)
			var te *TimeoutError
			if !errors.As(err, &te) {
				t.Fatalf("Run = %v; want a *TimeoutError", err)
			}
			if te.Step != tt.step || !strings.Contains(te.Reason, tt.reason) {
				t.Errorf("stalled at %s: %q; want %s: %q", te.Step, te.Reason, tt.step, tt.reason)
			}
			if msg := err.Error(); !strings.Contains(msg, string(tt.step)) || !strings.Contains(msg, "--timeout") || strings.Contains(msg, "0123456789abcdef") {
				t.Errorf("message %q does not name the step and remedy (or leaks the token)", msg)
			}
		})
	}
}

func TestRunStaleCredentials(t *testing.T) {
	unauthorized := func() *kubeclienttest.Fake {
		c := kubeclienttest.New()
		c.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, apierrors.NewUnauthorized("Unauthorized")
		})
		return c
	}
	t.Run("without a way to restart the kubelet", func(t *testing.T) {
		j := newJournal()
		d := testDeps(t, bootstrapped(t), j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: unauthorized()}))
		_, err := Run(context.Background(), d, j)
		var se *StaleCredentialsError
		if !errors.As(err, &se) {
			t.Fatalf("Run = %v; want a *StaleCredentialsError", err)
		}
	})
	t.Run("renewed by removing them and restarting the kubelet", func(t *testing.T) {
		root := bootstrapped(t)
		j := newJournal()
		good := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionTrue, "", ""),
			withLabels(map[string]string{config.LabelLocation: "idc-sh-01"}), withTaints(configuredTaint)))
		current := kubeclient.Interface(unauthorized())
		d := testDeps(t, root, j, func(_ hostRoot, p string, _ time.Duration) (kubeclient.Interface, error) { return current, nil })
		restarts := 0
		d.RestartKubelet = func(context.Context) error {
			restarts++
			for _, p := range []string{paths.KubeletKubeconfig, ClientCert, PKIDir + "/kubelet-client-2026-11-27-10-00-00.pem"} {
				if exists(root.Path(p)) {
					t.Errorf("%s still present when the kubelet restarts", p)
				}
			}
			if !exists(root.Path(BootstrapKubeconfig)) {
				t.Error("the bootstrap kubeconfig was removed")
			}
			// The kubelet bootstraps again with the token.
			writeFile(t, root, paths.KubeletKubeconfig, []byte("new"))
			writeFile(t, root, ClientCert, []byte("new"))
			current = good
			return nil
		}
		res, err := Run(context.Background(), d, j)
		if err != nil {
			t.Fatal(err)
		}
		if restarts != 1 || !res.CredentialsRenewed || !res.Changed {
			t.Errorf("restarts = %d, result %+v", restarts, res)
		}
	})
}

// With pauses far longer than the test, the Ready wait ends only because
// the Node's watch wakes it when the kubelet's status turns Ready.
func TestTheReadyWaitWakesOnTheNodesChange(t *testing.T) {
	root := bootstrapped(t)
	c := kubeclienttest.New(testNode("n1", "uid-1", ready(corev1.ConditionFalse, "KubeletNotReady", "cni plugin not initialized")))
	j := newJournal()
	d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.Backoff = Backoff{First: time.Hour, Fast: time.Hour, FastFor: time.Hour, Max: time.Hour}
	d.Timeout = 30 * time.Second
	go func() {
		// The kubelet's status update, once the wait has begun.
		time.Sleep(300 * time.Millisecond)
		n, err := c.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
		if err != nil {
			t.Error(err)
			return
		}
		ready(corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")(n)
		if _, err := c.CoreV1().Nodes().UpdateStatus(context.Background(), n, metav1.UpdateOptions{}); err != nil {
			t.Error(err)
		}
	}()
	done := make(chan error, 1)
	go func() { _, err := Run(context.Background(), d, j); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the Ready wait slept through the Node's change: no watch woke it")
	}
}
