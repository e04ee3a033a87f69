package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

func gather(t *testing.T, d Deps) (*Report, error) {
	t.Helper()
	rep, err := Gather(context.Background(), d)
	if rep == nil {
		t.Fatalf("Gather returned no report: %v", err)
	}
	return rep, err
}

func TestNotInstalledHostIsExitOneWithNotInstalled(t *testing.T) {
	root := host.Root{Dir: t.TempDir()}
	rep, err := gather(t, Deps{Root: root, Config: testConfig(), NodeName: "node-1", PhaseNames: testPhaseNames})
	var ni *NotInstalledError
	if !errors.As(err, &ni) {
		t.Fatalf("err = %v, want a *NotInstalledError", err)
	}
	if !strings.Contains(err.Error(), "not installed") || !strings.Contains(err.Error(), "run install") {
		t.Errorf("message %q does not say not installed and what to do", err)
	}
	if rep.Installed || rep.Healthy || rep.Install.State != InstallNotInstalled {
		t.Errorf("report = installed %v healthy %v state %q", rep.Installed, rep.Healthy, rep.Install.State)
	}
	if !strings.Contains(string(FormatText(rep)), "not installed") {
		t.Errorf("text does not say not installed:\n%s", FormatText(rep))
	}
}

func TestHealthyJoinedHost(t *testing.T) {
	h := newHost(t)
	rep, err := gather(t, h.deps())
	if err != nil {
		t.Fatalf("Gather: %v\n%s", err, FormatText(rep))
	}
	if !rep.Healthy || len(rep.Problems) != 0 {
		t.Fatalf("not healthy: %v", rep.Problems)
	}
	if rep.Install.State != InstallComplete || len(rep.Install.Phases) != len(testPhaseNames) {
		t.Errorf("install = %+v", rep.Install)
	}
	wantUnits := []string{containerd.UnitName, "kubelet.service"}
	if len(rep.Units) != 2 {
		t.Fatalf("units = %+v, want %v", rep.Units, wantUnits)
	}
	for i, u := range rep.Units {
		if u.Name != wantUnits[i] || !u.Active || !u.Enabled || u.SubState != "running" {
			t.Errorf("unit %d = %+v", i, u)
		}
	}
	if rep.Runtime != (Runtime{Kind: "containerd", Healthy: true, Version: "1.6.20~ds1", Socket: paths.ContainerdSocket}) {
		t.Errorf("runtime = %+v", rep.Runtime)
	}
	if !rep.Kubelet.Healthy || rep.Kubelet.Version != "v1.35.4" {
		t.Errorf("kubelet = %+v", rep.Kubelet)
	}
	n := rep.Node
	if !n.Joined || !n.APIReachable || !n.Registered || !n.Ready || n.Unschedulable || n.InternalIP != "10.77.0.13" || n.KubeletVersion != "v1.35.4" {
		t.Errorf("node = %+v", n)
	}
	if n.Labels["example.com/rack"] != "r42" || len(n.Taints) != 1 {
		t.Errorf("node labels/taints = %v %v", n.Labels, n.Taints)
	}
	if rep.UserScript.State != ScriptSucceeded || rep.UserScript.ExitCode == nil || *rep.UserScript.ExitCode != 0 || rep.UserScript.Attempts != 1 {
		t.Errorf("user script = %+v", rep.UserScript)
	}
	if !rep.Drift.Empty() || len(rep.Drift.Unchecked) != 0 {
		t.Errorf("drift = %+v", rep.Drift)
	}
}

// Each way a node degrades is named in Problems and in the error.
func TestEachDegradedReasonIsNamed(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(h *testHost, d *Deps)
		want   string
	}{
		{"kubelet unhealthy", func(h *testHost, _ *Deps) { h.healthy.Store(false) }, "kubelet not healthy"},
		{"kubelet stopped", func(h *testHost, _ *Deps) { h.systemd.SetActive("kubelet.service", false) }, "unit kubelet.service inactive (dead)"},
		{"unit disabled", func(h *testHost, _ *Deps) { _ = h.systemd.Disable(context.Background(), "kubelet.service") }, "unit kubelet.service not enabled"},
		{"systemd unreachable", func(_ *testHost, d *Deps) { d.Systemd = nil }, "unit containerd.service: systemd did not answer"},
		{"containerd down", func(h *testHost, _ *Deps) { h.stopContainerd() }, "containerd not answering"},
		{"node not ready", func(h *testHost, _ *Deps) {
			h.setNode(func(n *corev1.Node) {
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}}
			})
		}, "node NotReady (KubeletNotReady)"},
		// After uninstall and install the Node keeps the previous kubelet's
		// Ready=True until the new kubelet reports.
		{"Ready from an earlier kubelet", func(h *testHost, _ *Deps) {
			h.setNode(func(n *corev1.Node) {
				old := metav1.NewTime(time.Now().Add(-10 * time.Minute).Truncate(time.Second))
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: old, LastTransitionTime: old}}
			})
		}, "node NotReady (Ready=True is from an earlier kubelet"},
		{"node gone", func(h *testHost, _ *Deps) {
			_ = h.api.CoreV1().Nodes().Delete(context.Background(), "node-1", metav1.DeleteOptions{})
		}, "node not registered"},
		{"not joined", func(h *testHost, _ *Deps) { _ = os.Remove(h.root.Path(paths.KubeletKubeconfig)) }, "node has not joined (no kubelet credentials)"},
		{"credentials rejected", func(h *testHost, _ *Deps) {
			h.api.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
				return true, nil, apierrors.NewUnauthorized("certificate expired")
			})
		}, "API server refused the node's request"},
		{"user script failed", func(h *testHost, _ *Deps) {
			h.writeLastRun(`{"time":"2026-11-27T20:06:00Z","sha256":"` + sha256Hex([]byte(h.cfg.NodePool.UserScript)) + `","attempts":3,"exitCode":2,"succeeded":false}`)
		}, "user script failed (exit 2)"},
		{"user script never ran", func(h *testHost, _ *Deps) { _ = os.Remove(h.root.Path(userscript.ResultPath)) }, "user script has not run"},
		{"user script changed", func(h *testHost, _ *Deps) { h.cfg.NodePool.UserScript = "#!/bin/bash\necho changed\n" }, "user script changed since its last run"},
		{"runtime version", func(h *testHost, _ *Deps) { h.stopContainerd(); h.startContainerd("1.7.0") }, "drift: containerd 1.7.0, configured 1.6.20"},
		{"kubernetes version", func(h *testHost, _ *Deps) { h.cfg.Cluster.KubernetesVersion = "1.35.5" }, "drift: kubelet v1.35.4, configured 1.35.5"},
		{"runtime kind", func(h *testHost, _ *Deps) { h.cfg.NodePool.Runtime.Kind = config.RuntimeDocker }, "drift: runtime containerd, configured docker"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHost(t)
			d := h.deps()
			c.break_(h, &d)
			rep, err := gather(t, d)
			var de *DegradedError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DegradedError\n%s", err, FormatText(rep))
			}
			if rep.Healthy {
				t.Error("report says healthy")
			}
			if !contains(rep.Problems, c.want) {
				t.Errorf("problems %q lack %q", rep.Problems, c.want)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "degraded: ") {
				t.Errorf("error %q does not name %q", err, c.want)
			}
		})
	}
}

// contains reports whether an entry of list is s or starts with it.
func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, s) {
			return true
		}
	}
	return false
}

func TestInstallFailedAndInterruptedAreNamed(t *testing.T) {
	h := newHost(t)
	h.root = host.Root{Dir: shortTempDir(t)}
	h.install(map[string]bool{"join": true})
	rep, _ := gather(t, h.deps())
	if rep.Install.State != InstallFailed || !contains(rep.Problems, "install failed in phase join") || !contains(rep.Problems, "install phase userscript has not run") {
		t.Errorf("failed install: state %q, problems %q", rep.Install.State, rep.Problems)
	}

	// A run killed inside a phase leaves it "running" in the journal.
	j, err := phase.LoadJournal(h.root.Dir)
	if err != nil {
		t.Fatal(err)
	}
	j.Phase("kubelet").Status = phase.StatusRunning
	b, _ := json.Marshal(j)
	h.writeFile(paths.JournalPath, b, 0o600)
	rep, _ = gather(t, h.deps())
	if rep.Install.State != InstallInterrupted || rep.Install.Interrupted != "kubelet" || !contains(rep.Problems, "install interrupted in phase kubelet") {
		t.Errorf("interrupted install: %+v, problems %q", rep.Install, rep.Problems)
	}
}

func TestAPIServerUnreachableReportsTheLocalPart(t *testing.T) {
	h := newHost(t)
	// A server that accepts and never answers: the GET must give up at
	// APITimeout, not hang.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	h.writeFile(paths.KubeletKubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://%s", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-secret}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, l.Addr())), 0o600)
	d := h.deps()
	d.NewNodeClient = nil // the real client-go client
	d.APITimeout = 300 * time.Millisecond
	rep, err := gather(t, d)
	if err == nil || !contains(rep.Problems, "API server unreachable") {
		t.Fatalf("err %v, problems %q", err, rep.Problems)
	}
	if rep.Node.APIReachable || rep.Node.Error == "" {
		t.Errorf("node = %+v", rep.Node)
	}
	// The local part is all there.
	if !rep.Runtime.Healthy || !rep.Kubelet.Healthy || !rep.Units[1].Active || rep.UserScript.State != ScriptSucceeded {
		t.Errorf("local part missing: runtime %+v kubelet %+v units %+v", rep.Runtime, rep.Kubelet, rep.Units)
	}
	if len(rep.Problems) != 1 {
		t.Errorf("problems beyond the API: %q", rep.Problems)
	}
	if !cmp.Equal(rep.Drift.Unchecked, []string{"labels", "taints"}) {
		t.Errorf("unchecked = %q, want labels and taints", rep.Drift.Unchecked)
	}
	text := string(FormatText(rep))
	if !strings.Contains(text, "unreachable") {
		t.Errorf("text does not say unreachable:\n%s", text)
	}
}

func TestDriftOfAChangedAndAMissingFile(t *testing.T) {
	h := newHost(t)
	j, _ := phase.LoadJournal(h.root.Dir)
	var recorded string
	for _, f := range j.Files() {
		if f.Path == containerd.ConfigPath {
			recorded = f.SHA256
		}
	}
	h.writeFile(containerd.ConfigPath, []byte("version = 2\n# edited by hand\n"), 0o644)
	if err := os.Remove(h.root.Path("/var/lib/kubelet/config.yaml")); err != nil {
		t.Fatal(err)
	}
	rep, err := gather(t, h.deps())
	if err == nil {
		t.Fatal("no error for drifted files")
	}
	want := []FileDrift{
		{Path: containerd.ConfigPath, Change: ChangeModified, SHA256: recorded, Current: sha256Hex([]byte("version = 2\n# edited by hand\n"))},
		{Path: "/var/lib/kubelet/config.yaml", Change: ChangeMissing, SHA256: sha256Hex([]byte("kind: KubeletConfiguration\n"))},
	}
	if d := cmp.Diff(want, rep.Drift.Files); d != "" {
		t.Errorf("file drift (-want +got):\n%s", d)
	}
	for _, p := range []string{"drift: file /etc/containerd/config.toml modified", "drift: file /var/lib/kubelet/config.yaml missing"} {
		if !contains(rep.Problems, p) {
			t.Errorf("problems %q lack %q", rep.Problems, p)
		}
	}
}

func TestDriftOfLabels(t *testing.T) {
	h := newHost(t)
	h.setNode(func(n *corev1.Node) {
		n.Labels["example.com/rack"] = "r43"
		delete(n.Labels, "tke.cloud.tencent.com/location")
		n.Labels["example.com/by-admin"] = "x" // not the pool's: no drift
	})
	rep, _ := gather(t, h.deps())
	want := []LabelDrift{
		{Key: "example.com/rack", Configured: "r42", Node: "r43", Change: ChangeDifferent},
		{Key: "tke.cloud.tencent.com/location", Configured: "idc-01", Change: ChangeMissing},
	}
	if d := cmp.Diff(want, rep.Drift.Labels); d != "" {
		t.Errorf("label drift (-want +got):\n%s", d)
	}

	// A label the pool applied once and no longer configures is unwanted.
	h2 := newHost(t)
	delete(h2.cfg.NodePool.Labels, "example.com/rack")
	rep, _ = gather(t, h2.deps())
	want = []LabelDrift{{Key: "example.com/rack", Node: "r42", Change: ChangeUnwanted}}
	if d := cmp.Diff(want, rep.Drift.Labels); d != "" {
		t.Errorf("unwanted label (-want +got):\n%s", d)
	}
	if !contains(rep.Problems, "drift: label example.com/rack unwanted") {
		t.Errorf("problems %q", rep.Problems)
	}
}

func TestDriftOfTaints(t *testing.T) {
	h := newHost(t)
	h.setNode(func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{
			{Key: "example.com/dedicated", Value: "other", Effect: corev1.TaintEffectNoSchedule},
			{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule}, // not the pool's
		}
	})
	rep, _ := gather(t, h.deps())
	want := []TaintDrift{
		{Taint: config.Taint{Key: "example.com/dedicated", Value: "idc", Effect: "PreferNoSchedule"}, Change: ChangeMissing},
		{Taint: config.Taint{Key: "example.com/dedicated", Value: "other", Effect: "NoSchedule"}, Change: ChangeUnexpected},
	}
	if d := cmp.Diff(want, rep.Drift.Taints); d != "" {
		t.Errorf("taint drift (-want +got):\n%s", d)
	}
	if !contains(rep.Problems, "drift: taint example.com/dedicated=idc:PreferNoSchedule missing") {
		t.Errorf("problems %q", rep.Problems)
	}
}

// A removed success marker of an earlier user script is expected, not drift.
func TestOldUserScriptMarkerIsNoDrift(t *testing.T) {
	h := newHost(t)
	marker := userscript.Dir + "/.done-" + sha256Hex([]byte("old"))
	_, err := phase.Run(context.Background(), []phase.Phase{{Name: "userscript", Run: func(_ context.Context, rec phase.Recorder) error {
		_, err := h.root.WriteFile(rec, marker, []byte("x"), 0o600)
		return err
	}}}, phase.Options{Root: h.root.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(h.root.Path(marker)); err != nil {
		t.Fatal(err)
	}
	rep, err := gather(t, h.deps())
	if err != nil {
		t.Fatalf("%v: %+v", err, rep.Drift.Files)
	}
}

func TestSameVersion(t *testing.T) {
	for _, c := range []struct {
		installed, configured string
		want                  bool
	}{
		{"1.6.20", "1.6.20", true},
		{"v1.35.4", "1.35.4", true},
		{"1.6.20~ds1", "1.6.20", true},
		{"20.10.24+dfsg1", "20.10.24", true},
		{"1.6.201", "1.6.20", false},
		{"1.6.20.1", "1.6.20", false},
		{"v1.35.3", "1.35.4", false},
		{"1.7.0", "1.6.20", false},
	} {
		if got := sameVersion(c.installed, c.configured); got != c.want {
			t.Errorf("sameVersion(%q, %q) = %v, want %v", c.installed, c.configured, got, c.want)
		}
	}
}
