//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// statusOf runs `status -o json` in the host and returns its exit code and
// report; a run that prints no JSON object fails the test.
func statusOf(t *testing.T, h *Host, bin string) (int, status.Report, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := h.Exec(ctx, nil, bin, "status", "-o", "json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, res.Stderr)
	}
	var rep status.Report
	if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
		t.Fatalf("status -o json (exit %d) printed no report: %v\nstdout:\n%s\nstderr:\n%s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
	return res.ExitCode, rep, res.Stderr
}

// waitStatus polls status until it exits with code (a service coming back
// takes a few seconds); it returns the last report.
func waitStatus(t *testing.T, h *Host, bin string, code int, within time.Duration) status.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var (
		rep  status.Report
		got  int
		last string
	)
	err := poll(ctx, func(context.Context) (bool, error) {
		got, rep, last = statusOf(t, h, bin)
		return got == code, nil
	})
	if err != nil {
		t.Fatalf("status did not exit %d within %s: last exit %d, problems %q\n%s", code, within, got, rep.Problems, last)
	}
	return rep
}

func hasProblem(rep status.Report, prefix string) bool {
	for _, p := range rep.Problems {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// TestStatusOfAJoinedHost: after install, status exits 0 and reports the
// Node Ready with the pool's labels and taints, the units, runtime, kubelet
// and user script; a stopped kubelet, a changed installed file (a config
// file and a stamped binary) and an unreachable API server each make it
// exit 1 naming the cause, with the local part still reported; once
// repaired it exits 0 again. It logs status's wall time on the joined host
// (scripts/bench-status.sh measures the same on demand).
func TestStatusOfAJoinedHost(t *testing.T) {
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))

	// Before install: not installed, exit 1.
	code, rep, stderr := statusOf(t, h, bin)
	if code != 1 || rep.Installed || !strings.Contains(stderr, "not installed") {
		t.Fatalf("before install: exit %d, installed %v, stderr %q", code, rep.Installed, stderr)
	}

	h.Run(t, 10*time.Minute, bin, "install")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, "host1"); err != nil {
		t.Fatal(err)
	}

	// Healthy: every component and the pool's labels and taints.
	rep = waitStatus(t, h, bin, 0, time.Minute)
	if !rep.Healthy || !rep.Installed || rep.Install.State != status.InstallComplete {
		t.Errorf("healthy host: healthy %v, install %+v", rep.Healthy, rep.Install)
	}
	n := rep.Node
	if !n.APIReachable || !n.Ready || n.InternalIP != h.IP || rep.NodeName != "host1" {
		t.Errorf("node = %+v (name %q)", n, rep.NodeName)
	}
	for k, v := range map[string]string{"tke.cloud.tencent.com/location": "idc-e2e-01", "example.com/rack": "r42"} {
		if n.Labels[k] != v {
			t.Errorf("node label %s = %q, want %q", k, n.Labels[k], v)
		}
	}
	wantTaint := config.Taint{Key: "example.com/dedicated", Value: "idc", Effect: "PreferNoSchedule"}
	found := false
	for _, tt := range n.Taints {
		found = found || tt == wantTaint
	}
	if !found {
		t.Errorf("node taints %v lack %v", n.Taints, wantTaint)
	}
	units := map[string]status.Unit{}
	for _, u := range rep.Units {
		units[u.Name] = u
	}
	for _, name := range []string{"containerd.service", "kubelet.service"} {
		if u := units[name]; !u.Active || !u.Enabled {
			t.Errorf("unit %s = %+v", name, u)
		}
	}
	if !rep.Runtime.Healthy || rep.Runtime.Version == "" || !rep.Kubelet.Healthy || !strings.HasPrefix(rep.Kubelet.Version, "v1.") {
		t.Errorf("runtime %+v, kubelet %+v", rep.Runtime, rep.Kubelet)
	}
	if rep.UserScript.State != status.ScriptSucceeded || rep.UserScript.ExitCode == nil || *rep.UserScript.ExitCode != 0 {
		t.Errorf("user script = %+v", rep.UserScript)
	}
	if !rep.Drift.Empty() || len(rep.Drift.Unchecked) > 0 {
		t.Errorf("drift on a fresh install: %+v", rep.Drift)
	}
	text := h.Run(t, 30*time.Second, bin, "status")
	t.Logf("status on the joined host:\n%s", text)
	logWallTime(t, h, bin)

	// A stopped kubelet: exit 1 naming it.
	h.Run(t, time.Minute, "systemctl", "stop", "kubelet")
	code, rep, stderr = statusOf(t, h, bin)
	if code != 1 || !hasProblem(rep, "unit kubelet.service inactive") || !hasProblem(rep, "kubelet not healthy") || !strings.Contains(stderr, "kubelet") {
		t.Errorf("kubelet stopped: exit %d, problems %q, stderr %q", code, rep.Problems, stderr)
	}
	if !rep.Runtime.Healthy || !rep.Node.APIReachable {
		t.Errorf("kubelet stopped: the rest should still answer: runtime %+v node %+v", rep.Runtime, rep.Node)
	}
	h.Run(t, time.Minute, "systemctl", "start", "kubelet")
	waitStatus(t, h, bin, 0, 2*time.Minute)

	// Installed files changed: a config file (hashed) and a binary the
	// component stamp describes (trusted by size and mtime until they change).
	h.Sh(t, 30*time.Second, `
		cp -p /etc/containerd/config.toml /root/config.toml.orig
		cp -p /usr/local/bin/ctr /root/ctr.orig
		echo '# edited by hand' >> /etc/containerd/config.toml
		printf 'x' >> /usr/local/bin/ctr`)
	code, rep, _ = statusOf(t, h, bin)
	if code != 1 || !hasProblem(rep, "drift: file /etc/containerd/config.toml modified") || !hasProblem(rep, "drift: file /usr/local/bin/ctr modified") {
		t.Errorf("files changed: exit %d, problems %q, drift %+v", code, rep.Problems, rep.Drift.Files)
	}
	h.Sh(t, 30*time.Second, `
		cp -p /root/config.toml.orig /etc/containerd/config.toml
		cp -p /root/ctr.orig /usr/local/bin/ctr`)
	waitStatus(t, h, bin, 0, time.Minute)

	// The API server unreachable (packets dropped): exit 1 saying so after
	// the API timeout, with the local part reported.
	block := fmt.Sprintf("OUTPUT -d %s -p tcp --dport %s -j DROP", "10.77.0.1", "6443")
	h.Sh(t, 30*time.Second, "iptables -I "+block)
	unblocked := false
	unblock := func() {
		if !unblocked {
			h.Sh(t, 30*time.Second, "iptables -D "+block)
			unblocked = true
		}
	}
	defer unblock()
	start := time.Now()
	code, rep, stderr = statusOf(t, h, bin)
	t.Logf("status with the API server unreachable took %s", time.Since(start).Round(time.Millisecond))
	if code != 1 || !hasProblem(rep, "API server unreachable") || rep.Node.APIReachable || !strings.Contains(stderr, "API server unreachable") {
		t.Errorf("API blocked: exit %d, problems %q, node %+v", code, rep.Problems, rep.Node)
	}
	if !rep.Runtime.Healthy || !rep.Kubelet.Healthy || len(rep.Units) == 0 || rep.Install.State != status.InstallComplete {
		t.Errorf("API blocked: local part missing: runtime %+v kubelet %+v", rep.Runtime, rep.Kubelet)
	}
	unblock()
	waitStatus(t, h, bin, 0, time.Minute)
}

// logWallTime logs the median and range of 10 runs of status -o json in
// the host's shell (bash's time: the process as the operator runs it).
func logWallTime(t *testing.T, h *Host, bin string) {
	t.Helper()
	out := h.Sh(t, 2*time.Minute, fmt.Sprintf(`
		TIMEFORMAT=%%R
		for i in $(seq 10); do { time %s status -o json >/dev/null 2>&1; } 2>&1; done`, bin))
	var secs []float64
	for _, f := range strings.Fields(out) {
		if v, err := strconv.ParseFloat(f, 64); err == nil {
			secs = append(secs, v)
		}
	}
	if len(secs) == 0 {
		t.Logf("no timings in %q", out)
		return
	}
	sort.Float64s(secs)
	median := secs[len(secs)/2]
	if len(secs)%2 == 0 {
		median = (secs[len(secs)/2-1] + secs[len(secs)/2]) / 2
	}
	t.Logf("status -o json wall time on the joined host, %d runs: median %.3fs, min %.3fs, max %.3fs",
		len(secs), median, secs[0], secs[len(secs)-1])
}
