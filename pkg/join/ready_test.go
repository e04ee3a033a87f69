package join

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient/kubeclienttest"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// readyAt is a Ready=True condition last reported at t, as the API server
// keeps it (whole seconds).
func readyAt(t time.Time) nodeOpt {
	return func(n *corev1.Node) {
		at := metav1.NewTime(t.Truncate(time.Second))
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			Reason: "KubeletReady", LastHeartbeatTime: at, LastTransitionTime: at}}
	}
}

// A Node that outlived an uninstall carries the previous kubelet's
// Ready=True. The join must wait for the new kubelet's own status, and
// Satisfied must not call such a host joined.
func TestRunKeepsWaitingOnAReadyConditionFromAnEarlierKubelet(t *testing.T) {
	started := time.Now().Add(-3 * time.Second)
	c := kubeclienttest.New(testNode("n1", "uid-1", readyAt(started.Add(-10*time.Minute))))
	j := newJournal()
	d := testDeps(t, bootstrapped(t), j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.KubeletStarted = func(context.Context) (time.Time, error) { return started, nil }

	if ok, _ := Satisfied(context.Background(), d); ok {
		t.Error("Satisfied with the Ready condition of an earlier kubelet")
	}
	d.Timeout = 300 * time.Millisecond
	_, err := Run(context.Background(), d, j)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Step != StepReady || !strings.Contains(te.Reason, "earlier kubelet") {
		t.Fatalf("Run = %v; want a timeout at %s naming the earlier kubelet's Ready", err, StepReady)
	}
}

func TestRunAcceptsTheReadyConditionTheRunningKubeletReported(t *testing.T) {
	started := time.Now().Add(-3 * time.Second)
	c := kubeclienttest.New(testNode("n1", "uid-1", readyAt(started.Add(-10*time.Minute))))
	nodes := schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	// The new kubelet's first status arrives after a few reads: NotReady
	// (no CNI yet), then Ready.
	var gets atomic.Int32
	c.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		o, err := c.Tracker().Get(nodes, "", "n1")
		if err != nil {
			return true, nil, err
		}
		n := o.(*corev1.Node)
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		switch g := gets.Add(1); {
		case g >= 6:
			readyAt(now.Time)(n)
		case g >= 3:
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse,
				Reason: "KubeletNotReady", Message: "cni plugin not initialized", LastHeartbeatTime: now, LastTransitionTime: now}}
		}
		return true, n, nil
	})
	j := newJournal()
	d := testDeps(t, bootstrapped(t), j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.KubeletStarted = func(context.Context) (time.Time, error) { return started, nil }
	if _, err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if g := gets.Load(); g < 6 {
		t.Errorf("Run returned after %d reads of the Node, before the running kubelet reported Ready", g)
	}
}

func TestReadyFrom(t *testing.T) {
	started := time.Date(2026, 12, 2, 10, 0, 0, 700_000_000, time.UTC)
	tests := []struct {
		name     string
		reported time.Time
		started  time.Time
		want     bool
	}{
		{"reported after the start", started.Add(5 * time.Second), started, true},
		// Heartbeats are whole seconds: one sent at 10:00:00.9 reads 10:00:00.
		{"reported in the second of the start", started.Truncate(time.Second), started, true},
		{"reported the second before the start", started.Truncate(time.Second).Add(-time.Second), started, false},
		{"reported long before the start", started.Add(-10 * time.Minute), started, false},
		{"start unknown", started.Add(-10 * time.Minute), time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testNode("n1", "uid-1", readyAt(tt.reported))
			if got, why := ReadyFrom(n, tt.started); got != tt.want {
				t.Errorf("ReadyFrom = %v (%s), want %v", got, why, tt.want)
			}
		})
	}
}

func TestRunSaysTheKubeletIsNotRunning(t *testing.T) {
	c := kubeclienttest.New(testNode("n1", "uid-1", readyAt(time.Now())))
	j := newJournal()
	d := testDeps(t, bootstrapped(t), j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
	d.KubeletStarted = func(context.Context) (time.Time, error) { return time.Time{}, nil }
	d.Timeout = 200 * time.Millisecond
	_, err := Run(context.Background(), d, j)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Step != StepReady || !strings.Contains(te.Reason, "kubelet is not running") {
		t.Fatalf("Run = %v; want a timeout at %s saying the kubelet is not running", err, StepReady)
	}
}
