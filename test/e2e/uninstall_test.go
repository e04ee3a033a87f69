//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/uninstall"
)

// uninstallHost is the host of these tests (install's own tests use host1,
// status's host3); runs are serialized by the harness's machine lock anyway.
const uninstallHost = "host2"

// snapshotScript prints the state of a host that install and uninstall may
// touch, one line per fact, sorted within each section:
//
//	fs    path, type, mode, owner, sha256 of files and link targets
//	mount mount point, type, source
//	link  network interface names
//	unit  loaded units and their load state; unit files and their state
//	ipt   iptables tables, chains and rules (counters dropped)
//	sysctl the settings the host phase changes
//
// Volatile things no run of ours causes are left out: the journal's own
// files, systemd's runtime state, service credentials, login records.
const snapshotScript = `
set -euo pipefail
{
find /etc /usr/local /usr/libexec /opt /var/lib /var/cache /var/log /run /srv /root \
  \( -path /var/log/journal -o -path /run/systemd -o -path /run/user -o -path /run/log \
     -o -path /run/credentials -o -path /var/lib/systemd -o -path /run/udev -o -path /run/dbus \
     -o -path /var/lib/dbus -o -path /run/utmp -o -path /var/log/wtmp -o -path /var/log/btmp \
     -o -path /var/log/lastlog -o -path /root/.bash_history -o -path /var/cache/ldconfig \
     -o -path '/root/add2tkectl-*' -o -path /root/uninstall.out -o -path /root/uninstall.err \
     -o -path /root/install.out -o -path /root/install.err -o -path /run/mount \) -prune \
  -o -printf 'fs %p %y %m %u:%g %l\n'
find /etc /usr/local /usr/libexec /opt /var/lib /srv -xdev -type f \
  -not -path '/var/lib/systemd/*' -not -path '/var/lib/dbus/*' -print0 2>/dev/null | xargs -0 -r sha256sum | sed 's/^/sum /'
find /var/lib/containerd /var/lib/docker -type f -print0 2>/dev/null | xargs -0 -r sha256sum | sed 's/^/sum /'
} | sort
awk '$5 !~ /^\/run\/credentials/ && $5 !~ /^\/run\/user/ {for (i=7; $i != "-"; i++); print "mount", $5, $(i+1), $(i+2)}' /proc/self/mountinfo | sort
ip -o link | awk -F': ' '{print "link", $2}' | sed 's/@.*//' | sort
systemctl list-units --all --no-legend --plain | awk '{print "unit", $1, $2}' | grep -v -e ' session-' -e 'user@' -e 'user-runtime-dir@' | sort
systemctl list-unit-files --no-legend | awk '{print "unitfile", $1, $2}' | sort
for t in filter nat mangle raw; do iptables -t $t -S 2>/dev/null | sed "s/^/ipt $t /"; ip6tables -t $t -S 2>/dev/null | sed "s/^/ipt6 $t /"; done
`

// allowedDiff are the differences uninstall leaves on purpose: the logs it
// keeps, the run lock in /run (volatile; removing a held flock file would let
// a waiting run and a new one interleave), and network-online.target, a
// distribution target the kubelet's unit asked for, which stays reached.
// systemd's own credential mounts (/run/credentials/<unit>) come and go with
// the services systemd runs for itself, such as systemd-tmpfiles-setup;
// nothing of add2tkectl's is mounted there.
func allowedDiff(line string) bool {
	for _, p := range []string{
		"fs " + paths.LogDir + " ", "fs " + paths.LogDir + "/",
		"fs /run/add2tkectl.lock ",
		"unit network-online.target ",
		`unit run-credentials-`,
	} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// snapshot takes the host's state as a set of lines, including the sysctls
// the host phase changes.
func snapshot(t *testing.T, h *Host) map[string]bool {
	t.Helper()
	out := h.Sh(t, 2*time.Minute, snapshotScript)
	var keys []string
	for _, kv := range host.Sysctls("cilium-vxlan") {
		keys = append(keys, kv.Key)
	}
	res, err := h.Exec(context.Background(), nil, append([]string{"sysctl"}, keys...)...)
	if err != nil {
		t.Fatal(err)
	}
	out += res.Stdout // a key this kernel lacks is an error line on stderr: same before and after
	set := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if !strings.Contains(l, " ") || strings.Contains(l, " = ") {
				l = "sysctl " + l
			}
			set[l] = true
		}
	}
	return set
}

// diffSnapshots returns the lines only in a (-) and only in b (+) that are
// not allowed differences.
func diffSnapshots(a, b map[string]bool) []string {
	var out []string
	for l := range a {
		if !b[l] && !allowedDiff(l) {
			out = append(out, "- "+l)
		}
	}
	for l := range b {
		if !a[l] && !allowedDiff(l) {
			out = append(out, "+ "+l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][2:] < out[j][2:] })
	return out
}

type uninstallResult struct {
	Changed bool `json:"changed"`
	Phases  []struct {
		Name, Status, Error string
	} `json:"phases"`
	Plan            map[string][]string `json:"plan"`
	Warnings        []string            `json:"warnings"`
	DurationSeconds float64             `json:"durationSeconds"`
}

// runUninstall runs `uninstall -o json` in the host, fails the test unless it
// exits 0, and returns its result and the wall time of the command.
func runUninstall(t *testing.T, h *Host, bin string, args ...string) (uninstallResult, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := h.Exec(ctx, nil, append([]string{bin, "uninstall", "-o", "json", "--no-progress"}, args...)...)
	wall := time.Since(start)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("uninstall %v: exit %d, %v\nstdout:\n%s\nstderr:\n%s", args, res.ExitCode, err, res.Stdout, res.Stderr)
	}
	var r uninstallResult
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("uninstall printed no result: %v\n%s", err, res.Stdout)
	}
	return r, wall
}

// staticPod is a hostNetwork pod with an emptyDir, from the artifact set's
// image, so kubelet and containerd have a sandbox, a container, mounts,
// volumes and cgroups to leave behind.
func staticPod(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
spec:
  hostNetwork: true
  containers:
  - name: sleeper
    image: registry.local/pause:3.10
    imagePullPolicy: Never
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: scratch
    emptyDir: {}
`, name)
}

// waitPodRunning waits until the API shows the pod Running.
func waitPodRunning(t *testing.T, ns, name string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	last := "not found"
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		p, err := env.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		last = string(p.Status.Phase)
		return p.Status.Phase == corev1.PodRunning, nil
	})
	if err != nil {
		t.Fatalf("pod %s/%s not Running (%s): %v", ns, name, last, err)
	}
}

// joinWithPod installs, waits for the Node to be Ready and for a static pod
// (hostNetwork, emptyDir) to run on it.
func joinWithPod(t *testing.T, h *Host, bin string) {
	t.Helper()
	mustInstall(t, h, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	pod := "uninstall-probe"
	h.WriteFile(t, "/etc/kubernetes/manifests/"+pod+".yaml", []byte(staticPod(pod)), 0o644)
	waitPodRunning(t, "default", pod+"-"+h.Name, 2*time.Minute)
	h.Run(t, time.Minute, "sh", "-c", "ls -d /var/lib/kubelet/pods/*/volumes/kubernetes.io~empty-dir/scratch")
}

// TestUninstallGivesADockerHostBack: the same with runtime docker and
// cri-dockerd: the pods' containers are removed through dockerd.
func TestUninstallGivesADockerHostBack(t *testing.T) {
	h := env.FreshHost(t, uninstallHost)
	bin := h.InstallBundle(t, env.Bundle(t, "E2E_POOL_RUNTIME=docker"))
	before := snapshot(t, h)
	joinWithPod(t, h, bin)
	t.Logf("before uninstall: k8s containers in docker: %s", strings.TrimSpace(h.Run(t, time.Minute, "sh", "-c", "docker ps -q --filter name=k8s_ | wc -l")))
	r, wall := runUninstall(t, h, bin)
	t.Logf("uninstall of a joined docker host with a running pod: %s wall", wall.Round(time.Millisecond))
	if !r.Changed || len(r.Warnings) != 0 {
		t.Errorf("uninstall: changed %v, warnings %q", r.Changed, r.Warnings)
	}
	if d := diffSnapshots(before, snapshot(t, h)); len(d) > 0 {
		t.Errorf("the host differs from before install (-before +after):\n%s", strings.Join(d, "\n"))
	}
	if r2, _ := runUninstall(t, h, bin); r2.Changed {
		t.Errorf("second uninstall: changed, plan %v", r2.Plan)
	}
}

// TestUninstallGivesTheHostBack: snapshot a fresh host; install; run a
// static pod (hostNetwork, emptyDir) and bind-mount an operator's directory
// under the kubelet's root; uninstall. The host is as before but for the
// kept logs, the operator's data is untouched, the Node is cordoned and
// marked. A second uninstall changes nothing; install works again (a new
// certificate, Ready); uninstall --kubeconfig --keep-data then deletes the
// Node and keeps the container data.
func TestUninstallGivesTheHostBack(t *testing.T) {
	h := env.FreshHost(t, uninstallHost)
	bin := h.InstallBundle(t, env.Bundle(t))
	h.Sh(t, time.Minute, `mkdir -p /srv/operator-data && echo precious > /srv/operator-data/marker`)
	before := snapshot(t, h)

	joinWithPod(t, h, bin)
	h.Sh(t, time.Minute, `
		mkdir -p /var/lib/kubelet/operator-bind
		mount --bind /srv/operator-data /var/lib/kubelet/operator-bind
		test "$(cat /var/lib/kubelet/operator-bind/marker)" = precious`)
	during := h.Sh(t, time.Minute, `grep -c ' /run/containerd/' /proc/self/mountinfo; systemctl list-units --no-legend --plain 'kubepods*' | wc -l; pgrep -c -f containerd-shim`)
	t.Logf("before uninstall: containerd mounts, kubepods units, shims: %s", strings.Fields(during))
	cert1 := h.Run(t, time.Minute, "sha256sum", "/var/lib/kubelet/pki/kubelet-client-current.pem")

	r, wall := runUninstall(t, h, bin)
	t.Logf("uninstall of a joined host with a running pod: %s wall (command's own figure %.3fs)", wall.Round(time.Millisecond), r.DurationSeconds)
	if !r.Changed || len(r.Warnings) != 0 {
		t.Errorf("uninstall: changed %v, warnings %q", r.Changed, r.Warnings)
	}
	if b := h.Run(t, time.Minute, "cat", "/srv/operator-data/marker"); b != "precious\n" {
		t.Errorf("the operator's bind-mounted data changed: %q", b)
	}
	if d := diffSnapshots(before, snapshot(t, h)); len(d) > 0 {
		t.Errorf("the host differs from before install (-before +after):\n%s", strings.Join(d, "\n"))
	}
	n := getNode(t, h.Name)
	if !n.Spec.Unschedulable || n.Labels[uninstall.LabelUninstalled] != "true" {
		t.Errorf("Node after uninstall: unschedulable %v, labels %v", n.Spec.Unschedulable, n.Labels)
	}

	if r2, _ := runUninstall(t, h, bin); r2.Changed || len(r2.Plan) != 0 {
		t.Errorf("second uninstall: changed %v, plan %v", r2.Changed, r2.Plan)
	}

	mustInstall(t, h, bin)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel2()
	if _, err := env.WaitNodeReady(ctx2, h.Name); err != nil {
		t.Fatalf("install after uninstall: %v", err)
	}
	if cert2 := h.Run(t, time.Minute, "sha256sum", "/var/lib/kubelet/pki/kubelet-client-current.pem"); cert2 == cert1 {
		t.Error("install after uninstall reuses the old client certificate")
	}
	if n = getNode(t, h.Name); n.Labels[uninstall.LabelUninstalled] != "" {
		t.Errorf("Node after re-install still marked %s: the control plane would delete a live node", uninstall.LabelUninstalled)
	}

	h.CopyFile(t, env.Var(t, "KUBECONFIG"), "/root/admin.kubeconfig", 0o600)
	r3, wall3 := runUninstall(t, h, bin, "--kubeconfig", "/root/admin.kubeconfig", "--keep-data")
	t.Logf("uninstall --kubeconfig --keep-data: %s wall", wall3.Round(time.Millisecond))
	if len(r3.Warnings) != 0 {
		t.Errorf("warnings: %q", r3.Warnings)
	}
	if _, err := env.Client.CoreV1().Nodes().Get(context.Background(), h.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Node %s after uninstall --kubeconfig: %v, want NotFound", h.Name, err)
	}
	if out := h.Sh(t, time.Minute, `ls /var/lib/containerd | grep -c '^io.containerd' || true`); strings.TrimSpace(out) == "0" {
		t.Error("--keep-data removed containerd's data")
	}
	h.Run(t, time.Minute, "rm", "/root/admin.kubeconfig")
}

// TestUninstallAfterAKilledInstall: install is killed with SIGKILL while it
// writes the kubelet; uninstall gives the host back all the same, twice.
func TestUninstallAfterAKilledInstall(t *testing.T) {
	h := env.FreshHost(t, uninstallHost)
	bin := h.InstallBundle(t, env.Bundle(t))
	before := snapshot(t, h)
	out := h.Sh(t, 3*time.Minute, fmt.Sprintf(`
%s install --no-progress >/root/install.out 2>/root/install.err &
pid=$!
for i in $(seq 1 3000); do
  if test -e /usr/local/bin/kubelet; then kill -9 $pid; echo killed; exit 0; fi
  kill -0 $pid 2>/dev/null || { echo finished; exit 0; }
  sleep 0.01
done
echo timeout`, bin))
	if !strings.Contains(out, "killed") {
		t.Fatalf("install was not killed in the kubelet phase: %s", out)
	}
	r, wall := runUninstall(t, h, bin)
	t.Logf("uninstall after a killed install: %s wall", wall.Round(time.Millisecond))
	if !r.Changed {
		t.Error("uninstall after a killed install changed nothing")
	}
	h.Run(t, time.Minute, "rm", "-f", "/root/install.out", "/root/install.err")
	if d := diffSnapshots(before, snapshot(t, h)); len(d) > 0 {
		t.Errorf("the host differs from before install (-before +after):\n%s", strings.Join(d, "\n"))
	}
	if r2, _ := runUninstall(t, h, bin); r2.Changed {
		t.Errorf("second uninstall changed something: %+v", r2)
	}
	res, err := h.Exec(context.Background(), nil, bin, "uninstall", "--dry-run")
	if err != nil || res.ExitCode != 0 || !strings.Contains(res.Stdout, "nothing to remove") {
		t.Errorf("dry run on a clean host: exit %d, %v\n%s%s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
}
