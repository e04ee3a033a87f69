package kubelet

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func params(minor int) Params {
	return Params{
		KubernetesVersion: fmt.Sprintf("1.%d.3", minor),
		Runtime:           config.RuntimeContainerd,
		NodeIP:            "10.0.1.17",
		Labels:            map[string]string{config.LabelLocation: "idc-sh-01", "pool": "a"},
		Taints: []config.Taint{
			{Key: "key1", Value: "value1", Effect: "PreferNoSchedule"},
			{Key: "dedicated", Effect: "NoSchedule"},
		},
		CgroupDriver: "systemd",
		CgroupV1:     true,
		SandboxImage: "registry.local/pause:3.10",
	}
}

func parse(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("config is not YAML: %v", err)
	}
	return m
}

// TestRenderPerMinor renders containerd on a cgroup v1 host (the common IDC
// case) for every supported minor against golden files, and checks the
// version-dependent facts independently of the goldens.
func TestRenderPerMinor(t *testing.T) {
	for minor := config.MinKubernetesMinor; minor <= config.MaxKubernetesMinor; minor++ {
		t.Run(fmt.Sprintf("1.%d", minor), func(t *testing.T) {
			r, err := Render(params(minor))
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, fmt.Sprintf("containerd/v1.%d/config.yaml", minor), r.Config)
			golden.Assert(t, fmt.Sprintf("containerd/v1.%d/kubelet-flags.env", minor), r.FlagsEnv)

			cfg := parse(t, r.Config)
			flags := strings.Join(r.Flags, " ")
			has := func(f string) bool { return strings.Contains(flags, "--"+f+"=") }
			check := func(what string, got, want bool) {
				t.Helper()
				if got != want {
					t.Errorf("%s: %v, want %v (flags: %s)", what, got, want, flags)
				}
			}
			check("registerWithTaints in config", cfg["registerWithTaints"] != nil, minor >= 23)
			check("--register-with-taints flag", has("register-with-taints"), minor < 23)
			check("--container-runtime flag", has("container-runtime"), minor < 24)
			check("--container-runtime-endpoint flag", has("container-runtime-endpoint"), minor < 27)
			check("containerRuntimeEndpoint in config", cfg["containerRuntimeEndpoint"] == ContainerdEndpoint, minor >= 27)
			check("--pod-infra-container-image flag", has("pod-infra-container-image"), minor < 29)
			check("failCgroupV1: false", cfg["failCgroupV1"] == false, minor >= 35)
			check("warning about cgroup v1", len(r.Warnings) > 0, minor >= 35)
			check("--network-plugin flag", has("network-plugin"), false)
			for _, f := range []string{"node-ip=10.0.1.17", "bootstrap-kubeconfig=" + BootstrapKubeconfig, "kubeconfig=" + paths.KubeletKubeconfig,
				"cert-dir=" + CertDir, "config=" + ConfigPath, "node-labels=pool=a,tke.cloud.tencent.com/location=idc-sh-01"} {
				check("--"+f, strings.Contains(flags, "--"+f), true)
			}
			for k, want := range map[string]any{"cgroupDriver": "systemd", "rotateCertificates": true, "serverTLSBootstrap": false, "readOnlyPort": float64(0)} {
				if cfg[k] != want {
					t.Errorf("%s = %v, want %v", k, cfg[k], want)
				}
			}
			if got := cfg["authorization"].(map[string]any)["mode"]; got != "Webhook" {
				t.Errorf("authorization.mode = %v", got)
			}
		})
	}
}

func TestRenderDocker(t *testing.T) {
	for _, minor := range []int{23, 24, 27} {
		t.Run(fmt.Sprintf("1.%d", minor), func(t *testing.T) {
			p := params(minor)
			p.Runtime = config.RuntimeDocker
			r, err := Render(p)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, fmt.Sprintf("docker/v1.%d/config.yaml", minor), r.Config)
			golden.Assert(t, fmt.Sprintf("docker/v1.%d/kubelet-flags.env", minor), r.FlagsEnv)
			flags := strings.Join(r.Flags, " ")
			if dockershim := minor < 24; dockershim != strings.Contains(flags, "--network-plugin=cni") {
				t.Errorf("--network-plugin=cni present = %v for 1.%d", !dockershim, minor)
			}
			if minor >= 24 && !strings.Contains(string(r.FlagsEnv)+string(r.Config), CRIDockerdEndpoint) {
				t.Errorf("1.%d with docker does not talk to cri-dockerd", minor)
			}
			if minor < 24 && strings.Contains(flags, "endpoint") {
				t.Errorf("dockershim kubelet got an endpoint: %s", flags)
			}
		})
	}
}

func TestRenderCgroupV2HasNoFailCgroupV1(t *testing.T) {
	p := params(35)
	p.CgroupV1 = false
	r, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := parse(t, r.Config)["failCgroupV1"]; ok || len(r.Warnings) > 0 {
		t.Errorf("cgroup v2: failCgroupV1 set or warned: %v", r.Warnings)
	}
}

func TestExtraArgsAndConfigAreMergedLast(t *testing.T) {
	p := params(30)
	p.ExtraArgs = map[string]string{"--node-ip": "10.0.1.99", "v": "4", "max-pods": "80"}
	p.ExtraConfig = map[string]any{
		"authentication": map[string]any{"webhook": map[string]any{"cacheTTL": "1m0s"}},
		"clusterDNS":     []any{"10.96.0.10"},
		"readOnlyPort":   10255,
	}
	r, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "extra/config.yaml", r.Config)
	golden.Assert(t, "extra/kubelet-flags.env", r.FlagsEnv)
	flags := strings.Join(r.Flags, " ")
	if strings.Count(flags, "--node-ip=") != 1 || !strings.Contains(flags, "--node-ip=10.0.1.99") {
		t.Errorf("extraArgs did not replace --node-ip in place: %s", flags)
	}
	if !strings.HasSuffix(flags, "--max-pods=80 --v=4") {
		t.Errorf("new extraArgs not appended in name order: %s", flags)
	}
	cfg := parse(t, r.Config)
	authn := cfg["authentication"].(map[string]any)
	if authn["webhook"].(map[string]any)["cacheTTL"] != "1m0s" || authn["webhook"].(map[string]any)["enabled"] != true {
		t.Errorf("extraConfig not deep-merged: %v", authn)
	}
	if authn["x509"] == nil || cfg["readOnlyPort"] != float64(10255) || cfg["clusterDNS"] == nil {
		t.Errorf("extraConfig lost or did not override: %v", cfg)
	}
}

func TestRenderRefuses(t *testing.T) {
	for name, mod := range map[string]func(*Params){
		"1.17":                   func(p *Params) { p.KubernetesVersion = "1.17.4" },
		"1.38":                   func(p *Params) { p.KubernetesVersion = "1.38.0" },
		"no node IP":             func(p *Params) { p.NodeIP = "" },
		"unknown runtime":        func(p *Params) { p.Runtime = "cri-o" },
		"extra arg with a space": func(p *Params) { p.ExtraArgs = map[string]string{"node-labels": "a=b c=d"} },
		"extra arg with a $":     func(p *Params) { p.ExtraArgs = map[string]string{"v": "$HOME"} },
		"extra config sets kind": func(p *Params) { p.ExtraConfig = map[string]any{"kind": "Other"} },
		"extra arg name with =":  func(p *Params) { p.ExtraArgs = map[string]string{"a=b": "c"} },
	} {
		p := params(30)
		mod(&p)
		if _, err := Render(p); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}

// fakeCA is a syntactically valid PEM block; the kubeconfig only carries it.
var fakeCA = base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIBFAKE\n-----END CERTIFICATE-----\n"))

func TestBootstrapKubeconfig(t *testing.T) {
	b, err := RenderBootstrapKubeconfig(KubeconfigParams{
		ClusterName: "cls-m57oxxxp", Server: "https://10.0.0.5:443", CAData: fakeCA,
		Token: "abcdef.0123456789abcdef", // a FAKE token, for the golden file only
	})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "bootstrap-kubelet.conf", b)
	m := parse(t, b)
	if m["current-context"] != "kubelet-bootstrap@cls-m57oxxxp" {
		t.Errorf("current-context = %v", m["current-context"])
	}
	for name, p := range map[string]KubeconfigParams{
		"no CA":      {Server: "https://x", Token: "t"},
		"CA not PEM": {Server: "https://x", Token: "t", CAData: base64.StdEncoding.EncodeToString([]byte("hello"))},
		"no token":   {Server: "https://x", CAData: fakeCA},
	} {
		if _, err := RenderBootstrapKubeconfig(p); err == nil {
			t.Errorf("%s: rendered", name)
		}
	}
}

func TestUnitAndDropIn(t *testing.T) {
	unit, err := RenderUnit()
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "kubelet.service", unit)
	for _, rt := range []string{"containerd.service", "cri-docker.service"} {
		drop, err := RenderDropIn(rt)
		if err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, "10-add2tkectl.conf."+strings.TrimSuffix(rt, ".service"), drop)
		systemdtest.Verify(t, map[string][]byte{
			systemd.UnitPath(UnitName):               unit,
			systemd.DropInPath(UnitName, DropInName): drop,
		})
	}
}
