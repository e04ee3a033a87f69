package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

func TestStatusOnAHostWithNothingInstalledExitsOne(t *testing.T) {
	dir := hostWithFiles(t)
	stdout, _, code, err := runInstallCLI(t, "status", "--root", dir, "--config", installTestConfig)
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("exit %d, err %v; want 1 and \"not installed\"", code, err)
	}
	if !strings.Contains(stdout, "not-installed") {
		t.Errorf("table does not say not-installed:\n%s", stdout)
	}

	stdout, _, code, _ = runInstallCLI(t, "status", "--root", dir, "--config", installTestConfig, "-o", "json")
	var rep struct {
		Healthy   bool     `json:"healthy"`
		Installed bool     `json:"installed"`
		Problems  []string `json:"problems"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("-o json is not one JSON object: %v\n%s", err, stdout)
	}
	if code != ExitFailure || rep.Healthy || rep.Installed || len(rep.Problems) != 1 || rep.Problems[0] != "not installed" {
		t.Errorf("exit %d, report %+v", code, rep)
	}
}

// An installed host whose kubelet credentials are damaged and carry the
// token: no output format, nor the error, shows the token, the presigned
// query or the kubeconfig's content. (Nothing here leaves loopback: the
// kubeconfig does not parse, and the kubelet and containerd are absent.)
func TestStatusPrintsNoSecret(t *testing.T) {
	dir := hostWithFiles(t)
	write := func(p, data string) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const token = "abcdef.0123456789abcdef" // testdata/config/good/containerd.yaml
	write("/etc/kubernetes/bootstrap-kubelet.conf", "token: "+token+"\n")
	write("/etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: "+token+", client-key-data: S3CR3TKEYDATA\n")
	j := phase.Journal{SchemaVersion: 1, Phases: []*phase.PhaseRecord{{
		Name: "kubelet", Status: phase.StatusDone,
		Files:  []phase.FileRecord{{Path: "/etc/kubernetes/bootstrap-kubelet.conf", SHA256: strings.Repeat("0", 64)}},
		Units:  []string{"kubelet.service"},
		Values: map[string]string{"download.manifest": "https://x/manifest.json?q-signature=0123456789abcdef0123456789abcdef01234567"},
	}}}
	b, _ := json.Marshal(j)
	write(paths.JournalPath, string(b))

	for _, format := range []string{"text", "json", "yaml"} {
		stdout, stderr, code, err := runInstallCLI(t, "status", "--root", dir, "--config", installTestConfig, "-o", format)
		if code != ExitFailure || err == nil || !strings.HasPrefix(err.Error(), "degraded: ") {
			t.Fatalf("-o %s: exit %d, err %v; want 1 and degraded", format, code, err)
		}
		all := stdout + stderr + err.Error()
		for _, secret := range []string{"0123456789abcdef", "q-signature", "S3CR3TKEYDATA", "q-ak=AKIDEXAMPLE"} {
			if strings.Contains(all, secret) {
				t.Errorf("-o %s prints %q:\n%s\n%s", format, secret, stdout, err)
			}
		}
		if format == "yaml" {
			var v map[string]any
			if err := yaml.Unmarshal([]byte(stdout), &v); err != nil || v["installed"] != true {
				t.Errorf("-o yaml: %v %v\n%s", err, v["installed"], stdout)
			}
		}
		if !strings.Contains(all, "bootstrap-kubelet.conf") {
			t.Errorf("-o %s does not report the changed kubeconfig's path:\n%s", format, stdout)
		}
	}
}
