package config

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goldenfile "github.com/add2tkectl/add2tkectl/internal/golden"

	"sigs.k8s.io/yaml"
)

const testdata = "../../testdata/config"

// The secret halves that must never reach an error or a view.
const (
	tokenSecret   = "0123456789abcdef"
	presignSecret = "q-signature"
)

// wants reads the "# want: <substring>" lines a bad configuration starts with.
func wants(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
			out = append(out, w)
		}
	}
	return out
}

func loadAndValidate(path string) (*Loaded, error) {
	l, err := Load(Options{File: path})
	if err != nil {
		return nil, err
	}
	return l, l.Config.Validate()
}

func TestBadConfigsReportTheirErrors(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "bad", "*.yaml"))
	if len(files) < 25 {
		t.Fatalf("want at least 25 bad configurations, have %d", len(files))
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			ws := wants(t, path)
			if len(ws) == 0 {
				t.Fatal("no '# want:' line")
			}
			_, err := loadAndValidate(path)
			if err == nil {
				t.Fatalf("loaded and validated; want an error containing %q", ws)
			}
			var le *LoadError
			var ve *ValidationError
			if !errors.As(err, &le) && !errors.As(err, &ve) {
				t.Errorf("error is %T, want *LoadError or *ValidationError (exit 2)", err)
			}
			msg := err.Error()
			for _, w := range ws {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
			if strings.Contains(msg, tokenSecret) || strings.Contains(msg, presignSecret) {
				t.Errorf("error leaks a secret:\n%s", msg)
			}
		})
	}
}

func TestGoodConfigsMatchTheirView(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "good", "*"))
	if len(files) < 6 {
		t.Fatalf("want several good configurations, have %d", len(files))
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			l, err := loadAndValidate(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := yaml.Marshal(l.Config.Redacted())
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join(testdata, "view", strings.TrimSuffix(name, filepath.Ext(name))+".yaml")
			goldenfile.AssertFile(t, golden, got)
			if bytes.Contains(got, []byte(tokenSecret)) || bytes.Contains(got, []byte(presignSecret)) {
				t.Errorf("view leaks a secret:\n%s", got)
			}
		})
	}
}

func TestGoodConfigsFacts(t *testing.T) {
	for _, tc := range []struct {
		file        string
		criDockerd  bool
		dataDir     string
		plugin      string
		minor       int
		labels      int
		taints      int
		cordon      bool
		userScript  string
		extraConfig string
	}{
		{file: "containerd.yaml", dataDir: "/data/containerd", plugin: NetworkCiliumVXLAN, minor: 35, labels: 3, taints: 1},
		{file: "docker-1.23.yaml", dataDir: "/var/lib/docker", plugin: NetworkCiliumVXLAN, minor: 23, labels: 1},
		{file: "docker-1.35-cri-dockerd.yaml", criDockerd: true, dataDir: "/data/docker", plugin: NetworkCiliumVXLAN, minor: 35, labels: 1},
		{file: "cilium-bgp.yaml", dataDir: "/var/lib/containerd", plugin: NetworkCiliumBGP, minor: 35, labels: 5},
		{file: "ca-cert-hashes.json", dataDir: "/var/lib/containerd", plugin: NetworkCiliumVXLAN, minor: 28, labels: 1},
		{file: "taints.yaml", dataDir: "/var/lib/containerd", plugin: NetworkCiliumVXLAN, minor: 18, labels: 1, taints: 3, cordon: true},
		{file: "userscript.yaml", dataDir: "/var/lib/containerd", plugin: NetworkCiliumVXLAN, minor: 37, labels: 1,
			userScript: "#!/bin/bash\n# tune the host for the pool\nset -euo pipefail\nsysctl -w vm.max_map_count=262144\necho 'key: value' > /etc/pool-marker\n"},
		{file: "kubelet-extra.yaml", dataDir: "/var/lib/containerd", plugin: NetworkCiliumVXLAN, minor: 35, labels: 1,
			extraConfig: `{"allowedUnsafeSysctls":["net.core.somaxconn"],"evictionHard":{"memory.available":"200Mi","nodefs.available":"10%"},"maxParallelImagePulls":3,"serializeImagePulls":false}`},
		{file: "minimal-defaults.yaml", dataDir: "/var/lib/containerd", plugin: NetworkCiliumVXLAN, minor: 30, labels: 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			l, err := loadAndValidate(filepath.Join(testdata, "good", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			c := l.Config
			if got := c.NeedsCRIDockerd(); got != tc.criDockerd {
				t.Errorf("NeedsCRIDockerd = %v, want %v", got, tc.criDockerd)
			}
			if c.NodePool.Runtime.DataDir != tc.dataDir {
				t.Errorf("dataDir = %q, want %q", c.NodePool.Runtime.DataDir, tc.dataDir)
			}
			if c.Cluster.Network.Plugin != tc.plugin {
				t.Errorf("plugin = %q, want %q", c.Cluster.Network.Plugin, tc.plugin)
			}
			if v := c.KubernetesVersion(); v.Major != 1 || v.Minor != tc.minor {
				t.Errorf("Kubernetes version %v, want minor %d", v, tc.minor)
			}
			if len(c.NodePool.Labels) != tc.labels || len(c.NodePool.Taints) != tc.taints || c.NodePool.Cordon != tc.cordon {
				t.Errorf("labels %d taints %d cordon %v, want %d %d %v", len(c.NodePool.Labels), len(c.NodePool.Taints), c.NodePool.Cordon, tc.labels, tc.taints, tc.cordon)
			}
			if tc.userScript != "" && c.NodePool.UserScript != tc.userScript {
				t.Errorf("userScript = %q, want %q", c.NodePool.UserScript, tc.userScript)
			}
			if tc.extraConfig != "" {
				got, _ := jsonString(c.NodePool.Kubelet.ExtraConfig)
				if got != tc.extraConfig {
					t.Errorf("extraConfig = %s, want %s", got, tc.extraConfig)
				}
			}
		})
	}
}

func TestValidationReportsEveryErrorWithItsPath(t *testing.T) {
	l, err := Load(Options{File: filepath.Join(testdata, "good", "containerd.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	c.NodePool.Taints = append(c.NodePool.Taints, Taint{Key: "b", Effect: "Never"})
	c.Cluster.Network.PodCIDR = "nope"
	c.Artifacts.PublicKey = ""
	var ve *ValidationError
	if !errors.As(c.Validate(), &ve) {
		t.Fatal("Validate did not return a *ValidationError")
	}
	var paths []string
	for _, e := range ve.Errors {
		paths = append(paths, e.Path)
	}
	want := []string{"cluster.network.podCIDR", "nodePool.taints[1].effect", "artifacts.publicKey"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("error paths %v, want %v", paths, want)
	}
}

func TestKubeletLabelRules(t *testing.T) {
	for key, allowed := range map[string]bool{
		"example.com/rack":                       true,
		"tke.cloud.tencent.com/location":         true,
		"plain":                                  true,
		"kubernetes.io/hostname":                 true,
		"kubernetes.io/arch":                     true,
		"kubernetes.io/os":                       true,
		"beta.kubernetes.io/arch":                true,
		"beta.kubernetes.io/os":                  true,
		"beta.kubernetes.io/instance-type":       true,
		"node.kubernetes.io/instance-type":       true,
		"failure-domain.beta.kubernetes.io/zone": true,
		"topology.kubernetes.io/region":          true,
		"topology.kubernetes.io/zone":            true,
		"kubelet.kubernetes.io/anything":         true,
		"node.kubernetes.io/anything":            true,
		"foo.node.kubernetes.io/x":               true, // a subdomain of an allowed namespace
		"kubernetes.io/role":                     false,
		"node-role.kubernetes.io/worker":         false,
		"topology.kubernetes.io/rack":            false,
		"k8s.io/x":                               false,
		"storage.k8s.io/x":                       false,
		"node-restriction.kubernetes.io/x":       false,
		"notkubernetes.io/x":                     true, // not a subdomain
	} {
		if got := kubeletMayNotSet(key) == ""; got != allowed {
			t.Errorf("%s: allowed = %v, want %v", key, got, allowed)
		}
	}
}

func TestPrivateAddresses(t *testing.T) {
	for addr, private := range map[string]bool{
		"10.0.0.5": true, "172.16.0.1": true, "172.31.255.255": true, "172.32.0.1": false,
		"192.168.1.1": true, "100.64.0.1": true, "100.127.255.255": true, "100.128.0.1": false,
		"fd00::1": true, "fc00::1": false, "8.8.8.8": false, "127.0.0.1": false,
		"::ffff:10.0.0.5": true, "2001:db8::1": false,
	} {
		v := validEndpointErrors("https://" + bracket(addr) + ":443")
		if got := v == 0; got != private {
			t.Errorf("%s: accepted = %v, want %v", addr, got, private)
		}
	}
}

func bracket(a string) string {
	if strings.Contains(a, ":") {
		return "[" + a + "]"
	}
	return a
}

func validEndpointErrors(ep string) int {
	var errs fieldErrors
	validateEndpoint(&errs, "e", ep)
	return len(errs)
}

func TestKubernetesVersions(t *testing.T) {
	for in, want := range map[string]string{
		"1.35.4": "v1.35.4", "v1.18.0": "v1.18.0", "1.30.0-tke.8": "v1.30.0-tke.8",
	} {
		v, err := ParseKubernetesVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("%s: %v %v, want %s", in, v, err, want)
		}
	}
	for _, in := range []string{"1.30", "1.3O.1", "01.30.1", "", "1.30.1 "} {
		if _, err := ParseKubernetesVersion(in); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}
