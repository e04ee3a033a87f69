package status

import (
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/internal/golden"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func intp(i int) *int { return &i }

func healthyReport() *Report {
	var phases []Phase
	for _, n := range testPhaseNames {
		phases = append(phases, Phase{Name: n, Status: "done", StartedAt: at("2026-11-27T20:05:47Z"), FinishedAt: at("2026-11-27T20:05:48Z")})
	}
	return &Report{
		Healthy: true, Installed: true, Problems: []string{},
		Cluster: "cls-e2e0demo", NodePool: "np-e2e0pool", NodeName: "host3",
		Install: Install{State: InstallComplete, UpdatedAt: at("2026-11-27T20:06:01Z"), Phases: phases},
		Units: []Unit{
			{Name: "containerd.service", LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled", Active: true, Enabled: true},
			{Name: "kubelet.service", LoadState: "loaded", ActiveState: "active", SubState: "running", UnitFileState: "enabled", Active: true, Enabled: true},
		},
		Runtime: Runtime{Kind: "containerd", Healthy: true, Version: "1.6.20~ds1", Socket: "/run/containerd/containerd.sock"},
		Kubelet: Kubelet{Healthy: true, HealthzURL: "http://127.0.0.1:10248/healthz", Version: "v1.35.4"},
		Node: Node{Joined: true, APIReachable: true, Registered: true, Ready: true, InternalIP: "10.77.0.13", KubeletVersion: "v1.35.4",
			Labels: map[string]string{"example.com/rack": "r42", "tke.cloud.tencent.com/location": "idc-e2e-01", "kubernetes.io/hostname": "host3"},
			Taints: []config.Taint{{Key: "example.com/dedicated", Value: "idc", Effect: "PreferNoSchedule"}}},
		UserScript: UserScript{Configured: true, State: ScriptSucceeded, LastRun: at("2026-11-27T20:06:00Z"), ExitCode: intp(0), Attempts: 1,
			Succeeded: true, LogPath: "/usr/local/qcloud/tke/userscript/userscript.log"},
	}
}

func TestFormatTextHealthyGolden(t *testing.T) {
	golden.Assert(t, "healthy.txt.golden", FormatText(healthyReport()))
}

func TestFormatTextDegradedGolden(t *testing.T) {
	r := healthyReport()
	r.Healthy = false
	r.Units[1].ActiveState, r.Units[1].SubState, r.Units[1].Active = "inactive", "dead", false
	r.Kubelet.Healthy, r.Kubelet.Error = false, `Get "http://127.0.0.1:10248/healthz": dial tcp 127.0.0.1:10248: connect: connection refused`
	r.Node = Node{Joined: true, Error: `read Node host3 from the API server: Get "https://10.77.0.1:6443/api/v1/nodes/host3?timeout=2s": context deadline exceeded; check that it is reachable from this host`}
	r.UserScript = UserScript{Configured: true, State: ScriptFailed, LastRun: at("2026-11-27T20:06:00Z"), ExitCode: intp(2), Attempts: 3,
		LogPath: "/usr/local/qcloud/tke/userscript/userscript.log"}
	r.Drift = Drift{
		Versions:  []VersionDrift{{Component: "kubelet", Configured: "1.35.5", Installed: "v1.35.4", Where: "binary"}},
		Files:     []FileDrift{{Path: "/etc/containerd/config.toml", Change: ChangeModified, SHA256: "0c78d04b627c6a74e2be05b28a3251c8", Current: "17087676d5f5b539a57cea1355c660e0"}, {Path: "/var/lib/kubelet/config.yaml", Change: ChangeMissing, SHA256: "5ffaedb8bc1de3bb"}},
		Unchecked: []string{"labels", "taints"},
	}
	r.Problems = problems(r)
	golden.Assert(t, "degraded.txt.golden", FormatText(r))
}

func TestFormatTextNodeDriftGolden(t *testing.T) {
	r := healthyReport()
	r.Healthy = false
	r.Node.Ready, r.Node.Reason, r.Node.Unschedulable = false, "KubeletNotReady", true
	r.Drift = Drift{
		Labels: []LabelDrift{
			{Key: "example.com/rack", Configured: "r42", Node: "r43", Change: ChangeDifferent},
			{Key: "example.com/old", Node: "x", Change: ChangeUnwanted},
			{Key: "tke.cloud.tencent.com/location", Configured: "idc-e2e-01", Change: ChangeMissing},
		},
		Taints: []TaintDrift{
			{Taint: config.Taint{Key: "example.com/dedicated", Value: "idc", Effect: "PreferNoSchedule"}, Change: ChangeMissing},
			{Taint: config.Taint{Key: "example.com/dedicated", Effect: "NoSchedule"}, Change: ChangeUnexpected},
		},
	}
	r.Problems = problems(r)
	golden.Assert(t, "node-drift.txt.golden", FormatText(r))
}

func TestFormatTextNotInstalledGolden(t *testing.T) {
	r := &Report{Problems: []string{"not installed"}, NodeName: "host3", Install: Install{State: InstallNotInstalled, Phases: []Phase{}}}
	golden.Assert(t, "not-installed.txt.golden", FormatText(r))
}
