//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// install runs `install -o json` in the host and returns the exit code, the
// result and stderr; a run that prints no result object fails the test.
func install(t *testing.T, h *Host, bin string, args ...string) (int, phase.Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := h.Exec(ctx, nil, append([]string{bin, "install", "-o", "json", "--no-progress"}, args...)...)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, res.Stderr)
	}
	var r phase.Result
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("install (exit %d) printed no result: %v\nstdout:\n%s\nstderr:\n%s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
	return res.ExitCode, r, res.Stderr
}

// mustInstall runs install and fails the test unless it exits 0.
func mustInstall(t *testing.T, h *Host, bin string, args ...string) phase.Result {
	t.Helper()
	code, r, stderr := install(t, h, bin, args...)
	if code != 0 {
		t.Fatalf("install exited %d:\n%s", code, stderr)
	}
	return r
}

func getNode(t *testing.T, name string) *corev1.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := env.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get Node %s: %v", name, err)
	}
	return n
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// checkPoolNode asserts the Node carries the sample pool's settings.
func checkPoolNode(t *testing.T, h *Host, n *corev1.Node, wantUnschedulable bool) {
	t.Helper()
	if got := internalIP(n); got != h.IP {
		t.Errorf("Node %s InternalIP %q, want the host's private address %s", n.Name, got, h.IP)
	}
	for k, v := range map[string]string{"tke.cloud.tencent.com/location": "idc-e2e-01", "example.com/rack": "r42"} {
		if n.Labels[k] != v {
			t.Errorf("Node label %s=%q, want %q", k, n.Labels[k], v)
		}
	}
	found := false
	for _, tn := range n.Spec.Taints {
		if tn.Key == "example.com/dedicated" && tn.Value == "idc" && tn.Effect == corev1.TaintEffectPreferNoSchedule {
			found = true
		}
	}
	if !found {
		t.Errorf("Node taints %v lack example.com/dedicated=idc:PreferNoSchedule", n.Spec.Taints)
	}
	if n.Spec.Unschedulable != wantUnschedulable {
		t.Errorf("Node unschedulable=%v, want %v", n.Spec.Unschedulable, wantUnschedulable)
	}
}

// unitStamp is what changes when systemd (re)starts a unit.
func unitStamp(t *testing.T, h *Host, units ...string) string {
	t.Helper()
	var b strings.Builder
	for _, u := range units {
		b.WriteString(h.Run(t, 30*time.Second, "systemctl", "show", u, "-p", "MainPID,ActiveEnterTimestampMonotonic,NRestarts"))
	}
	return b.String()
}

// TestInstallJoinsAReadyNodeWithThePoolSettings is the first suite of the
// environment: a fresh host, the bundled binary run as an operator would,
// a Ready Node at the host's private address with the pool's labels and
// taints; the pool's user script lifts the initial cordon. A second install
// changes nothing and restarts no service; no secret is in any process's
// arguments.
func TestInstallJoinsAReadyNodeWithThePoolSettings(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))

	start := time.Now()
	r := mustInstall(t, h, bin)
	t.Logf("install took %s (phases %+v)", time.Since(start).Round(time.Millisecond), r.Phases)
	if !r.Changed {
		t.Error("first install reports changed=false")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n, err := env.WaitNodeReady(ctx, h.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("install start to Node Ready: %s", time.Since(start).Round(time.Millisecond))
	// The user script uncordoned the node it was cordoned at registration.
	checkPoolNode(t, h, getNode(t, n.Name), false)
	if log := h.Run(t, 30*time.Second, "cat", "/usr/local/qcloud/tke/userscript/userscript.log"); !strings.Contains(log, "node/"+h.Name+" uncordoned") {
		t.Errorf("user script log does not show the uncordon:\n%s", log)
	}

	before := unitStamp(t, h, "kubelet", "containerd")
	start = time.Now()
	r = mustInstall(t, h, bin)
	t.Logf("second install took %s", time.Since(start).Round(time.Millisecond))
	if r.Changed {
		t.Errorf("second install changed something: %+v", r.Phases)
	}
	for _, p := range r.Phases {
		if p.Status != phase.StatusUnchanged {
			t.Errorf("second install: phase %s is %s, want unchanged", p.Name, p.Status)
		}
	}
	if after := unitStamp(t, h, "kubelet", "containerd"); after != before {
		t.Errorf("second install restarted a service:\nbefore %s\nafter  %s", before, after)
	}
	// The cordon was applied once, at the first join: the script's uncordon holds.
	checkPoolNode(t, h, getNode(t, h.Name), false)

	token := strings.TrimSpace(h.Run(t, 30*time.Second, "sh", "-c", "grep -ho '[a-z0-9]\\{6\\}\\.[a-z0-9]\\{16\\}' /etc/kubernetes/bootstrap-kubelet.conf | head -1"))
	if token == "" {
		t.Fatal("no bootstrap token in /etc/kubernetes/bootstrap-kubelet.conf")
	}
	secret := token[7:]
	if out := h.Run(t, 30*time.Second, "sh", "-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f 2>/dev/null; echo; done"); strings.Contains(out, secret) {
		t.Errorf("the bootstrap token is in a process's arguments")
	}
	for _, p := range []string{"/var/log/add2tkectl/add2tkectl.log", "/var/lib/add2tkectl/state.json", "/usr/local/qcloud/tke/userscript/userscript.log"} {
		if out := h.Run(t, 30*time.Second, "cat", p); strings.Contains(out, secret) {
			t.Errorf("the bootstrap token is in %s", p)
		}
	}
	if mode := strings.TrimSpace(h.Run(t, 30*time.Second, "stat", "-c", "%a", "/etc/kubernetes/bootstrap-kubelet.conf")); mode != "600" {
		t.Errorf("bootstrap kubeconfig mode %s, want 600", mode)
	}
}

// TestInstallKeepsTheCordonAndConvergesLabels: with no user script to lift it,
// the pool's cordon holds on the Ready node, and a changed label converges
// on the next install.
func TestInstallKeepsTheCordonAndConvergesLabels(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	mustInstall(t, h, bin, "--set", "nodePool.userScript=echo keep the cordon")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	checkPoolNode(t, h, getNode(t, h.Name), true)

	r := mustInstall(t, h, bin, "--set", "nodePool.userScript=echo keep the cordon", "--set", "nodePool.labels.example.com/rack=r43")
	if !r.Changed {
		t.Error("install with a changed label reports changed=false")
	}
	if got := getNode(t, h.Name).Labels["example.com/rack"]; got != "r43" {
		t.Errorf("label example.com/rack=%q after the change, want r43", got)
	}
}

// TestInstallReportsAFailingUserScript: the script is retried, install exits
// 1 naming the log, and a later run retries it.
func TestInstallReportsAFailingUserScript(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	script := "echo attempt >> /root/attempts; exit 7"
	code, r, stderr := install(t, h, bin, "--set", "nodePool.userScript="+script)
	if code != 1 {
		t.Fatalf("install with a failing script exited %d, want 1:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "/usr/local/qcloud/tke/userscript/") {
		t.Errorf("the error does not name the script's log:\n%s", stderr)
	}
	last := r.Phases[len(r.Phases)-1]
	if last.Name != "userscript" || last.Status != phase.StatusFailed {
		t.Errorf("last phase %+v, want userscript failed", last)
	}
	if n := strings.Count(h.Run(t, 30*time.Second, "cat", "/root/attempts"), "attempt"); n != 3 {
		t.Errorf("the script ran %d times, want 3 attempts", n)
	}
	// The node itself joined: only the script failed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
}

// TestInstallRefusesAnUnmanagedContainerd: a containerd that add2tkectl did
// not install is running; preflight refuses with exit 3 and says what to do.
func TestInstallRefusesAnUnmanagedContainerd(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	tarballs, _ := filepath.Glob(filepath.Join(env.Var(t, "ARTIFACTS_DIR"), "containerd-*.tar.gz"))
	if len(tarballs) != 1 {
		t.Fatalf("the artifact set has %d containerd tarballs, want 1", len(tarballs))
	}
	h.CopyFile(t, tarballs[0], "/root/containerd.tar.gz", 0o644)
	h.Sh(t, time.Minute, `
tar -C /usr -xzf /root/containerd.tar.gz bin/containerd bin/containerd-shim-runc-v2
systemd-run --unit=operators-containerd /usr/bin/containerd
for i in $(seq 50); do [ -S /run/containerd/containerd.sock ] && break; sleep 0.1; done`)
	code, _, stderr := install(t, h, bin)
	if code != 3 {
		t.Fatalf("install next to an unmanaged containerd exited %d, want 3:\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "containerd") || !strings.Contains(strings.ToLower(stderr), "not installed by add2tkectl") && !strings.Contains(stderr, "uninstall") {
		t.Errorf("preflight does not say what to do about the containerd:\n%s", stderr)
	}
	if out := h.Run(t, 30*time.Second, "sh", "-c", "ls /usr/local/bin; systemctl is-active kubelet || true"); strings.Contains(out, "kubelet\n") && !strings.Contains(out, "inactive") {
		t.Errorf("a refused install left kubelet behind:\n%s", out)
	}
}

// TestInstallCompletesAfterAKillAtEveryPhase: install is killed with
// SIGKILL as each phase starts, and in the middle of the runtime and
// kubelet phases; the next install completes to the same Ready node.
func TestInstallCompletesAfterAKillAtEveryPhase(t *testing.T) {
	type point struct{ name, waitFor string }
	var points []point
	for _, p := range []string{"download", "host", "runtime", "images", "kubelet", "join", "userscript"} {
		points = append(points, point{"start of " + p, fmt.Sprintf("grep -q '] %s: ' /root/install.err", p)})
	}
	points = append(points,
		point{"middle of runtime", "test -e /usr/local/bin/containerd"},
		point{"middle of kubelet", "test -e /usr/local/bin/kubelet"})
	for _, pt := range points {
		t.Run(strings.ReplaceAll(pt.name, " ", "-"), func(t *testing.T) {
			h := env.FreshHost(t, "host1")
			bin := h.InstallBundle(t, env.Bundle(t))
			out := h.Sh(t, 3*time.Minute, fmt.Sprintf(`
%s install --no-progress >/root/install.out 2>/root/install.err &
pid=$!
for i in $(seq 1 3000); do
  if %s; then kill -9 $pid; echo killed; exit 0; fi
  kill -0 $pid 2>/dev/null || { echo finished; exit 0; }
  sleep 0.01
done
echo timeout`, bin, pt.waitFor))
			if !strings.Contains(out, "killed") {
				t.Fatalf("install was not killed at the %s: %s", pt.name, out)
			}
			mustInstall(t, h, bin)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
				t.Fatal(err)
			}
			checkPoolNode(t, h, getNode(t, h.Name), false)
			if r := mustInstall(t, h, bin); r.Changed {
				t.Errorf("install after the recovery still changes things: %+v", r.Phases)
			}
		})
	}
}
