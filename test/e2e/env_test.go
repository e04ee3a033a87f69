//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TestHostIsPristineSystemdMachine: a host runs systemd with D-Bus as PID 1,
// has its private address, reaches the API server and the artifact server,
// writes its own cgroups, and a reset forgets everything written to it.
func TestHostIsPristineSystemdMachine(t *testing.T) {
	h := env.FreshHost(t, "host1")
	state := strings.TrimSpace(h.Run(t, 10*time.Second, "systemctl", "is-system-running"))
	if state != "running" && state != "degraded" {
		t.Errorf("systemd state %q, want running", state)
	}
	h.Run(t, 10*time.Second, "busctl", "--system", "status")
	if got := h.Run(t, 10*time.Second, "ip", "-4", "-o", "addr", "show", "eth0"); !strings.Contains(got, h.IP+"/24") {
		t.Errorf("eth0 has %q, want %s/24", got, h.IP)
	}
	h.Sh(t, 20*time.Second, `
		test "$(curl -sSk --max-time 5 -o /dev/null -w '%{http_code}' https://10.77.0.1:6443/livez)" = 200
		curl -sS --max-time 5 -o /dev/null http://10.77.0.1:8080/
		for d in /sys/fs/cgroup/memory /sys/fs/cgroup/cpu /sys/fs/cgroup/systemd; do mkdir "$d/e2e-probe" && rmdir "$d/e2e-probe"; done
		echo dirty > /root/dirty`)
	h = env.FreshHost(t, "host1")
	if res, _ := h.Exec(context.Background(), nil, "test", "-e", "/root/dirty"); res.ExitCode == 0 {
		t.Error("/root/dirty survived a reset")
	}
}

// artifact is one entry of the manifest payload (DESIGN.md section 2).
type artifact struct {
	Name, Version, OS, Arch, Kind string
	URLs                          []string
	Size                          int64
	SHA256                        string
}

// TestEnvironmentJoinsNodeByHand proves the environment with real parts and
// without add2tkectl: in a fresh host, the artifact set is downloaded over its
// presigned URLs and installed by hand (containerd + runc + loopback CNI, the
// pause image, kubelet with a bootstrap kubeconfig, systemd cgroup driver,
// failCgroupV1: false), and the Node becomes Ready at the host's address.
func TestEnvironmentJoinsNodeByHand(t *testing.T) {
	h := env.FreshHost(t, "host1")
	var payload struct{ Artifacts []artifact }
	data, err := os.ReadFile(env.Var(t, "ARTIFACT_PAYLOAD"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &payload); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var fetch strings.Builder
	fetch.WriteString("mkdir -p /tmp/a2t && cd /tmp/a2t\n")
	for _, a := range payload.Artifacts {
		file := strings.ReplaceAll(a.Name, "/", "-")
		fmt.Fprintf(&fetch, "curl -fsS --max-time 60 -o %s %q\necho '%s  %s' | sha256sum -c --quiet\n", file, a.URLs[0], a.SHA256, file)
	}
	h.Sh(t, 2*time.Minute, fetch.String())
	t.Logf("downloaded %d artifacts from the artifact server in %s", len(payload.Artifacts), time.Since(start).Round(time.Millisecond))

	h.WriteFile(t, "/etc/kubernetes/bootstrap-kubelet.conf", mustRead(t, env.Var(t, "BOOTSTRAP_KUBECONFIG")), 0o600)
	h.WriteFile(t, "/etc/kubernetes/pki/ca.crt", mustRead(t, env.Var(t, "CA_FILE")), 0o644)
	h.WriteFile(t, "/etc/containerd/config.toml", []byte(containerdConfig), 0o644)
	h.WriteFile(t, "/etc/systemd/system/containerd.service", []byte(containerdUnit), 0o644)
	h.WriteFile(t, "/etc/cni/net.d/99-loopback.conflist", []byte(loopbackConflist), 0o644)
	h.WriteFile(t, "/var/lib/kubelet/config.yaml", []byte(kubeletConfig), 0o644)
	h.WriteFile(t, "/etc/systemd/system/kubelet.service", []byte(kubeletUnit), 0o644)

	start = time.Now()
	h.Sh(t, 2*time.Minute, `
		cd /tmp/a2t
		tar -xzf containerd -C /usr/local
		install -m 0755 runc /usr/local/sbin/runc
		mkdir -p /opt/cni/bin && tar -xzf cni-plugins -C /opt/cni/bin
		install -m 0755 kubelet /usr/local/bin/kubelet
		systemctl daemon-reload
		systemctl enable --now containerd
		for i in $(seq 1 100); do ctr version >/dev/null 2>&1 && break; sleep 0.1; done
		ctr version >/dev/null
		ctr -n k8s.io images import image-pause
		ctr -n k8s.io images ls -q | grep -x registry.local/pause:3.10 >/dev/null`) // grep reads all: no SIGPIPE under pipefail
	t.Logf("containerd running with the pause image in %s", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	h.Run(t, time.Minute, "systemctl", "enable", "--now", "kubelet")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	node, err := env.WaitNodeReady(ctx, h.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kubelet start -> Node %s Ready in %s", node.Name, time.Since(start).Round(time.Millisecond))

	var internal string
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			internal = a.Address
		}
	}
	if internal != h.IP {
		t.Errorf("Node InternalIP %q, want %s", internal, h.IP)
	}
	if v := node.Status.NodeInfo.KubeletVersion; v != env.Vars["K8S_VERSION"] {
		t.Errorf("kubelet version %q, want %s", v, env.Vars["K8S_VERSION"])
	}
	// The systemd cgroup driver with QoS cgroups made kubepods.slice in the host.
	h.Run(t, 10*time.Second, "test", "-d", "/sys/fs/cgroup/systemd/kubepods.slice")
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// restrict_oom_score_adj: the test machines lack CAP_SYS_RESOURCE, so a
// sandbox's oom_score_adj may not go below the runtime's own (E2E-FACTS.md).
const containerdConfig = `version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.local/pause:3.10"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
        BinaryName = "/usr/local/sbin/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
`

// containerd's upstream unit. Without CAP_SYS_RESOURCE systemd clamps the
// limits and skips OOMScoreAdjust ("assuming containerized execution").
const containerdUnit = `[Unit]
Description=containerd container runtime
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`

const loopbackConflist = `{"cniVersion": "1.0.0", "name": "loopback", "plugins": [{"type": "loopback"}]}
`

const kubeletConfig = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
rotateCertificates: true
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
clusterDNS: [10.96.0.10]
`

const kubeletUnit = `[Unit]
Description=kubelet
After=containerd.service
Wants=containerd.service

[Service]
ExecStart=/usr/local/bin/kubelet --config=/var/lib/kubelet/config.yaml --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf
Restart=always
RestartSec=2

[Install]
WantedBy=multi-user.target
`
