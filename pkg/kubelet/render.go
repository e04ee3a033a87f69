// Package kubelet installs, configures and starts the kubelet: its binary,
// a KubeletConfiguration and flags rendered for the cluster's Kubernetes
// minor (1.18 to 1.37), the bootstrap kubeconfig, and its systemd unit.
package kubelet

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// Paths on the host that the kubelet component owns.
const (
	UnitName            = "kubelet.service"
	DropInName          = "10-add2tkectl.conf"
	BinaryPath          = "/usr/local/bin/kubelet"
	KubectlPath         = paths.ToolsDir + "/kubectl"
	RootDir             = "/var/lib/kubelet"
	ConfigPath          = "/var/lib/kubelet/config.yaml"
	FlagsPath           = "/var/lib/kubelet/add2tkectl-flags.env"
	CertDir             = "/var/lib/kubelet/pki"
	BootstrapKubeconfig = "/etc/kubernetes/bootstrap-kubelet.conf"
	CAPath              = "/etc/kubernetes/pki/ca.crt"
	StaticPodPath       = "/etc/kubernetes/manifests"
	HealthzURL          = "http://127.0.0.1:10248/healthz"
	// FlagsVar is the variable in FlagsPath that ExecStart expands.
	FlagsVar = "KUBELET_ARGS"
)

// CRI endpoints the kubelet talks to.
const (
	ContainerdEndpoint = "unix:///run/containerd/containerd.sock"
	CRIDockerdEndpoint = "unix:///run/cri-dockerd.sock"
)

// Minors at which the kubelet's command line and configuration changed.
const (
	// KubeletConfiguration.registerWithTaints (kubernetes#105437).
	minorRegisterWithTaintsField = 23
	// dockershim removed: --network-plugin gone, docker needs cri-dockerd,
	// --container-runtime defaults to remote.
	minorNoDockershim = 24
	// --container-runtime removed; containerRuntimeEndpoint in the config.
	minorRuntimeEndpointField = 27
	// --pod-infra-container-image stopped doing anything (the runtime pins
	// the sandbox image) and was removed in 1.35 (kubernetes#133779).
	// From 1.24 to 1.28 the kubelet warns that it is deprecated, yet it is
	// still what keeps its image garbage collector off the pool's sandbox
	// image (an offline image on an air-gapped host), so it stays there.
	minorNoPodInfraImage = 29
	// failCgroupV1 defaults to true: on cgroup v1 it must be set false.
	minorFailCgroupV1Default = 35
)

// Params is everything the kubelet's configuration and flags depend on.
type Params struct {
	// KubernetesVersion of the cluster (cluster.kubernetesVersion).
	KubernetesVersion string
	// Runtime is config.RuntimeContainerd or config.RuntimeDocker.
	Runtime string
	// NodeIP is the source address of the route to the API server.
	NodeIP string
	Labels map[string]string
	Taints []config.Taint
	// CgroupDriver must match the runtime's (systemd).
	CgroupDriver string
	// CgroupV1 is true on a cgroup v1 (or hybrid) host.
	CgroupV1 bool
	// SandboxImage is the pause image (passed to kubelets that still take it).
	SandboxImage string
	// ExtraArgs and ExtraConfig come from nodePool.kubelet and win.
	ExtraArgs   map[string]string
	ExtraConfig map[string]any
}

// Rendered is the kubelet's configuration file, its flags, and what the
// operator should be told about them.
type Rendered struct {
	Config   []byte   // ConfigPath
	Flags    []string // in order, each "--name=value"
	FlagsEnv []byte   // FlagsPath
	Warnings []string
}

// Render renders the KubeletConfiguration and the flags for p's minor.
func Render(p Params) (Rendered, error) {
	v, err := config.ParseKubernetesVersion(p.KubernetesVersion)
	if err != nil {
		return Rendered{}, fmt.Errorf("cluster.kubernetesVersion %q: %w", p.KubernetesVersion, err)
	}
	if v.Major != 1 || v.Minor < config.MinKubernetesMinor || v.Minor > config.MaxKubernetesMinor {
		return Rendered{}, fmt.Errorf("kubernetes %s is not supported: use 1.%d to 1.%d", v, config.MinKubernetesMinor, config.MaxKubernetesMinor)
	}
	if _, err := netip.ParseAddr(p.NodeIP); err != nil {
		return Rendered{}, fmt.Errorf("node IP %q is not an IP address", p.NodeIP)
	}
	if p.CgroupDriver == "" {
		p.CgroupDriver = "systemd"
	}
	minor := v.Minor
	var out Rendered

	endpoint := ContainerdEndpoint
	dockershim := false
	switch p.Runtime {
	case config.RuntimeContainerd:
	case config.RuntimeDocker:
		if minor < minorNoDockershim {
			dockershim = true
		} else {
			endpoint = CRIDockerdEndpoint
		}
	default:
		return Rendered{}, fmt.Errorf("runtime %q: want containerd or docker", p.Runtime)
	}

	cfg := map[string]any{
		"apiVersion": "kubelet.config.k8s.io/v1beta1",
		"kind":       "KubeletConfiguration",
		"authentication": map[string]any{
			"anonymous": map[string]any{"enabled": false},
			"webhook":   map[string]any{"enabled": true, "cacheTTL": "2m0s"},
			"x509":      map[string]any{"clientCAFile": CAPath},
		},
		"authorization": map[string]any{
			"mode":    "Webhook",
			"webhook": map[string]any{"cacheAuthorizedTTL": "5m0s", "cacheUnauthorizedTTL": "30s"},
		},
		"cgroupDriver":       p.CgroupDriver,
		"clusterDomain":      "cluster.local",
		"healthzBindAddress": "127.0.0.1",
		"healthzPort":        10248,
		"readOnlyPort":       0,
		"rotateCertificates": true,
		"serverTLSBootstrap": false,
		"staticPodPath":      StaticPodPath,
	}
	flags := []flag{
		{"config", ConfigPath},
		{"kubeconfig", paths.KubeletKubeconfig},
		{"bootstrap-kubeconfig", BootstrapKubeconfig},
		{"cert-dir", CertDir},
		{"node-ip", p.NodeIP},
	}
	if len(p.Labels) > 0 {
		flags = append(flags, flag{"node-labels", joinLabels(p.Labels)})
	}
	if len(p.Taints) > 0 {
		if minor >= minorRegisterWithTaintsField {
			cfg["registerWithTaints"] = taintList(p.Taints)
		} else {
			flags = append(flags, flag{"register-with-taints", joinTaints(p.Taints)})
		}
	}
	switch {
	case dockershim:
		// The kubelet runs dockershim itself and needs to be told to use CNI.
		flags = append(flags, flag{"network-plugin", "cni"})
	case minor >= minorRuntimeEndpointField:
		cfg["containerRuntimeEndpoint"] = endpoint
	default:
		if minor < minorNoDockershim {
			flags = append(flags, flag{"container-runtime", "remote"})
		}
		flags = append(flags, flag{"container-runtime-endpoint", endpoint})
	}
	if minor < minorNoPodInfraImage && p.SandboxImage != "" {
		flags = append(flags, flag{"pod-infra-container-image", p.SandboxImage})
	}
	if p.CgroupV1 && minor >= minorFailCgroupV1Default {
		cfg["failCgroupV1"] = false
		out.Warnings = append(out.Warnings, fmt.Sprintf(
			"cgroup v1 host: kubelet 1.%d refuses cgroup v1 by default, so failCgroupV1 is set to false; move the host to cgroup v2 (systemd.unified_cgroup_hierarchy=1) before Kubernetes drops v1", minor))
	}

	merged, err := mergeConfig(cfg, p.ExtraConfig)
	if err != nil {
		return Rendered{}, err
	}
	js, err := json.Marshal(merged)
	if err != nil {
		return Rendered{}, fmt.Errorf("nodePool.kubelet.extraConfig: %w", err)
	}
	y, err := yaml.JSONToYAML(js)
	if err != nil {
		return Rendered{}, err
	}
	out.Config = append([]byte("# Rendered by add2tkectl for Kubernetes "+v.String()+"; a re-run of install overwrites changes.\n"), y...)

	flags, err = mergeFlags(flags, p.ExtraArgs)
	if err != nil {
		return Rendered{}, err
	}
	var args []string
	for _, f := range flags {
		args = append(args, "--"+f.name+"="+f.value)
	}
	out.Flags = args
	out.FlagsEnv = []byte("# Rendered by add2tkectl; a re-run of install overwrites changes.\n" +
		FlagsVar + "=\"" + strings.Join(args, " ") + "\"\n")
	return out, nil
}

type flag struct{ name, value string }

// mergeFlags applies extraArgs: a flag named again is replaced in place,
// new flags follow in name order. A value systemd would split or unquote
// differently is refused.
func mergeFlags(base []flag, extra map[string]string) ([]flag, error) {
	names := make([]string, 0, len(extra))
	for k := range extra {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, raw := range names {
		name := strings.TrimLeft(raw, "-")
		val := extra[raw]
		if name == "" || strings.ContainsAny(name, " \t\n\"'\\=$") {
			return nil, fmt.Errorf("nodePool.kubelet.extraArgs: %q is not a flag name (write it without the leading dashes)", raw)
		}
		if strings.ContainsAny(val, " \t\n\r\"'\\$") {
			return nil, fmt.Errorf("nodePool.kubelet.extraArgs[%s]: the value may not contain spaces, quotes, backslashes or $ (use extraConfig for structured settings)", raw)
		}
		replaced := false
		for i := range base {
			if base[i].name == name {
				base[i].value, replaced = val, true
			}
		}
		if !replaced {
			base = append(base, flag{name, val})
		}
	}
	return base, nil
}

// mergeConfig deep-merges extra into base: maps merge key by key, any
// other value (lists included) replaces.
func mergeConfig(base, extra map[string]any) (map[string]any, error) {
	if len(extra) == 0 {
		return base, nil
	}
	// Through JSON, so extra holds only JSON types whatever the loader gave.
	b, err := json.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("nodePool.kubelet.extraConfig: %w", err)
	}
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	for _, k := range []string{"apiVersion", "kind"} {
		if _, ok := e[k]; ok {
			return nil, fmt.Errorf("nodePool.kubelet.extraConfig may not set %s", k)
		}
	}
	return deepMerge(base, e), nil
}

func deepMerge(dst, src map[string]any) map[string]any {
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				dst[k] = deepMerge(dm, sm)
				continue
			}
		}
		dst[k] = sv
	}
	return dst
}

func joinLabels(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

func joinTaints(ts []config.Taint) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Key + "=" + t.Value + ":" + t.Effect
		if t.Value == "" {
			parts[i] = t.Key + ":" + t.Effect
		}
	}
	return strings.Join(parts, ",")
}

func taintList(ts []config.Taint) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		m := map[string]any{"key": t.Key, "effect": t.Effect}
		if t.Value != "" {
			m["value"] = t.Value
		}
		out[i] = m
	}
	return out
}

// KubeconfigParams is what the bootstrap kubeconfig holds.
type KubeconfigParams struct {
	ClusterName string
	Server      string
	// CAData is base64 of the PEM CA bundle (cluster.apiServer.caData).
	CAData string
	Token  string
}

// RenderBootstrapKubeconfig renders the kubeconfig the kubelet uses once,
// for TLS bootstrap. It holds the bootstrap token: write it 0600.
func RenderBootstrapKubeconfig(p KubeconfigParams) ([]byte, error) {
	if _, err := DecodeCA(p.CAData); err != nil {
		return nil, err
	}
	if p.Server == "" || p.Token == "" {
		return nil, fmt.Errorf("bootstrap kubeconfig needs cluster.apiServer.endpoint and cluster.bootstrapToken")
	}
	name := p.ClusterName
	if name == "" {
		name = "kubernetes"
	}
	doc := map[string]any{
		"apiVersion": "v1",
		"kind":       "Config",
		"clusters": []any{map[string]any{"name": name, "cluster": map[string]any{
			"server": p.Server, "certificate-authority-data": strings.TrimSpace(p.CAData)}}},
		"users":           []any{map[string]any{"name": "kubelet-bootstrap", "user": map[string]any{"token": p.Token}}},
		"contexts":        []any{map[string]any{"name": "kubelet-bootstrap@" + name, "context": map[string]any{"cluster": name, "user": "kubelet-bootstrap"}}},
		"current-context": "kubelet-bootstrap@" + name,
		"preferences":     map[string]any{},
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// DecodeCA turns cluster.apiServer.caData into the PEM bundle, checking it
// holds at least one certificate.
func DecodeCA(caData string) ([]byte, error) {
	if strings.TrimSpace(caData) == "" {
		return nil, fmt.Errorf("cluster.apiServer.caData is empty: the kubelet needs the cluster CA; copy it from the console")
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(caData))
	if err != nil {
		return nil, fmt.Errorf("cluster.apiServer.caData is not base64: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("cluster.apiServer.caData does not hold a PEM certificate")
	}
	return b, nil
}
