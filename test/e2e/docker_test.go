//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// dockerUnits are what the docker path runs: dockerd (with the containerd
// of the docker tarball as its child) and cri-dockerd for Kubernetes >= 1.24.
var dockerUnits = []string{"docker.service", "docker.socket", "cri-docker.service", "cri-docker.socket"}

// TestInstallWithDockerJoinsAReadyNode is the docker path of the first
// suite: a pool with runtime docker (Debian's docker 20.10 and cri-dockerd,
// Kubernetes 1.35) on a fresh host reaches a Ready Node at the host's
// private address with the pool's labels and taints; the user script lifts
// the cordon; the pause image was loaded into docker so the node pulls
// nothing; a second install changes nothing and restarts no service; status
// reports the host healthy with docker as its runtime.
func TestInstallWithDockerJoinsAReadyNode(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t, "E2E_POOL_RUNTIME=docker"))
	rulesBefore := dockerRules(t, h)

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
	t.Logf("docker: install start to Node Ready: %s", time.Since(start).Round(time.Millisecond))
	checkPoolNode(t, h, getNode(t, n.Name), false)
	if log := h.Run(t, 30*time.Second, "cat", "/usr/local/qcloud/tke/userscript/userscript.log"); !strings.Contains(log, "node/"+h.Name+" uncordoned") {
		t.Errorf("user script log does not show the uncordon:\n%s", log)
	}
	if rt := n.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(rt, "docker://") {
		t.Errorf("Node runtime %q, want docker://...", rt)
	}

	for _, u := range dockerUnits {
		if got := strings.TrimSpace(h.Run(t, 30*time.Second, "sh", "-c", "systemctl is-active "+u+" || true")); got != "active" {
			t.Errorf("unit %s is %q, want active", u, got)
		}
	}
	if got := strings.TrimSpace(h.Run(t, 30*time.Second, "sh", "-c", "systemctl is-active containerd.service || true")); got == "active" {
		t.Error("a containerd.service runs next to docker: docker starts its own containerd")
	}
	images := h.Run(t, 30*time.Second, "docker", "images", "--format", "{{.Repository}}:{{.Tag}}")
	if !strings.Contains(images, "registry.local/pause:3.10\n") {
		t.Errorf("docker images lacks registry.local/pause:3.10:\n%s", images)
	}
	// The cluster's CNI stand-in runs through cri-dockerd as a docker container.
	if ps := h.Run(t, 30*time.Second, "docker", "ps", "--format", "{{.Names}}"); !strings.Contains(ps, "k8s_") {
		t.Errorf("docker ps shows no container of the kubelet:\n%s", ps)
	}
	if dr := strings.TrimSpace(h.Run(t, 30*time.Second, "docker", "info", "--format", "{{.DockerRootDir}} {{.CgroupDriver}}")); dr != "/var/lib/docker systemd" {
		t.Errorf("docker info: root dir and cgroup driver %q, want /var/lib/docker systemd", dr)
	}

	// daemon.json leaves pod networking to the CNI: no docker0, no rule of
	// docker's (counted against before install: the host's network
	// namespace outlives a reset).
	if out := h.Sh(t, 30*time.Second, "ip -o link show docker0 2>&1 || true"); !strings.Contains(out, "does not exist") {
		t.Errorf("docker made its bridge:\n%s", out)
	}
	if after := dockerRules(t, h); after != rulesBefore {
		t.Errorf("docker changed iptables: %s lines mention DOCKER, %s before install", after, rulesBefore)
	}

	stamped := append([]string{"kubelet.service"}, dockerUnits...)
	before := unitStamp(t, h, stamped...)
	start = time.Now()
	r = mustInstall(t, h, bin)
	t.Logf("docker: second install took %s", time.Since(start).Round(time.Millisecond))
	if r.Changed {
		t.Errorf("second install changed something: %+v", r.Phases)
	}
	for _, p := range r.Phases {
		if p.Status != phase.StatusUnchanged {
			t.Errorf("second install: phase %s is %s, want unchanged", p.Name, p.Status)
		}
	}
	if after := unitStamp(t, h, stamped...); after != before {
		t.Errorf("second install restarted a service:\nbefore %s\nafter  %s", before, after)
	}
	checkPoolNode(t, h, getNode(t, h.Name), false)

	rep := waitStatus(t, h, bin, 0, time.Minute)
	if !rep.Healthy || rep.Install.State != status.InstallComplete {
		t.Errorf("status: healthy %v, install %+v, problems %q", rep.Healthy, rep.Install, rep.Problems)
	}
	if rep.Runtime.Kind != "docker" || !rep.Runtime.Healthy || !strings.HasPrefix(rep.Runtime.Version, "20.10.24") {
		t.Errorf("status runtime = %+v, want healthy docker 20.10.24", rep.Runtime)
	}
	units := map[string]status.Unit{}
	for _, u := range rep.Units {
		units[u.Name] = u
	}
	for _, name := range []string{"docker.service", "cri-docker.service", "kubelet.service"} {
		if u := units[name]; !u.Active || !u.Enabled {
			t.Errorf("status unit %s = %+v, want active and enabled", name, u)
		}
	}
	if !rep.Node.Ready || rep.Node.InternalIP != h.IP {
		t.Errorf("status node = %+v", rep.Node)
	}
}

// dockerRules counts the lines of iptables-save that mention DOCKER.
func dockerRules(t *testing.T, h *Host) string {
	t.Helper()
	return strings.TrimSpace(h.Sh(t, 30*time.Second, "iptables-save | grep -c DOCKER || true"))
}
