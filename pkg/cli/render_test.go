package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/render"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

const renderToken = "abcdef.0123456789abcdef" // the test configuration's FAKE token

// renderedTree describes the regular files under dir, but the journal, as
// host path -> "mode sha256".
func renderedTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if hp := "/" + rel; hp != paths.JournalPath {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			out[hp] = fmt.Sprintf("%04o %s", info.Mode().Perm(), hex.EncodeToString(sum[:]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRenderRefusesTheLiveRoot(t *testing.T) {
	for _, args := range [][]string{
		{"render", "--root", "/", "--config", installTestConfig, "--node-ip", "10.0.1.17"},
		{"render", "--config", installTestConfig, "--node-ip", "10.0.1.17"}, // --root defaults to /
	} {
		stdout, _, code, err := runInstallCLI(t, args...)
		if code != ExitUsage || err == nil || !strings.Contains(err.Error(), "use install") {
			t.Errorf("%q: exit %d, %v; want exit %d saying to use install", args, code, err, ExitUsage)
		}
		if stdout != "" {
			t.Errorf("%q: stdout %q", args, stdout)
		}
	}
}

func TestRenderJSONListsEveryFileWrittenAndStartsNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "image")
	stdout, stderr, code, err := runInstallCLI(t, "render", "--root", dir, "--config", installTestConfig,
		"--node-ip", "10.0.1.17", "--cgroup", "v2", "--cap-sys-resource", "true", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	var res render.Result
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil || dec.More() {
		t.Fatalf("stdout is not one result object (%v):\n%s", err, stdout)
	}
	got := map[string]string{}
	for _, f := range res.Files {
		got[f.Path] = f.Mode + " " + f.SHA256
	}
	if diff := cmp.Diff(renderedTree(t, dir), got); diff != "" {
		t.Errorf("listed files differ from the files written (-written +listed):\n%s", diff)
	}
	for p, mode := range map[string]string{
		kubelet.BootstrapKubeconfig: "0600", kubelet.ConfigPath: "0644", userscript.ScriptPath: "0700",
		"/etc/containerd/config.toml": "0644", "/etc/sysctl.d/99-add2tkectl.conf": "0644",
	} {
		if !strings.HasPrefix(got[p], mode+" ") {
			t.Errorf("%s: %q, want mode %s", p, got[p], mode)
		}
	}
	if res.Binaries || res.Facts.Cgroup != "v2" || !res.Facts.CapSysResource || res.Facts.NodeIP != "10.0.1.17" {
		t.Errorf("binaries %v, facts %+v", res.Binaries, res.Facts)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "binaries are not included") {
		t.Errorf("notes do not say binaries are not included: %q", res.Notes)
	}
	// The token is in the 0600 kubeconfig and in no output.
	if strings.Contains(stdout+stderr, renderToken) {
		t.Error("the bootstrap token is in the output")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, kubelet.BootstrapKubeconfig)); !strings.Contains(string(b), renderToken) {
		t.Error("the bootstrap kubeconfig lacks the token")
	}
	// No log file in the image, and the journal lists the files.
	if _, err := os.Stat(filepath.Join(dir, paths.LogPath)); err == nil {
		t.Errorf("render left a log file in the image: %s", paths.LogPath)
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if !strings.HasPrefix(f.Path, "/var/cache/") && !inJournal(j, f.Path) {
			t.Errorf("%s is not in the journal", f.Path)
		}
	}
}

func inJournal(j *phase.Journal, p string) bool {
	for _, f := range j.Files() {
		if f.Path == p {
			return true
		}
	}
	return false
}

func TestRenderTextSaysBinariesAreNotIncluded(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code, err := runInstallCLI(t, "render", "--root", dir, "--config", installTestConfig,
		"--node-ip", "10.0.1.17", "--cgroup", "v1", "--cap-sys-resource", "false")
	if code != ExitOK {
		t.Fatalf("exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	for p, desc := range renderedTree(t, dir) {
		mode, sum, _ := strings.Cut(desc, " ")
		if !strings.Contains(stdout, mode+"  "+sum+"  "+p+"\n") {
			t.Errorf("text output lacks %s %s %s", mode, sum, p)
		}
	}
	if !strings.Contains(stdout, "binaries are not included") {
		t.Errorf("text output does not say binaries are not included:\n%s", stdout)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, kubelet.ConfigPath))
	if !strings.Contains(string(cfg), "failCgroupV1: false") {
		t.Error("--cgroup v1 did not render failCgroupV1: false for 1.35")
	}
}

func TestRenderFlagErrorsExit2(t *testing.T) {
	for _, extra := range [][]string{
		{"--cgroup", "v3"},
		{"--cap-sys-resource", "maybe"},
		{"--node-ip", "not-an-ip"},
	} {
		dir := t.TempDir()
		args := append([]string{"render", "--root", dir, "--config", installTestConfig, "--node-ip", "10.0.1.17"}, extra...)
		if _, _, code, err := runInstallCLI(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d (%v), want %d", extra, code, err, ExitUsage)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("%q: wrote into the root before refusing", extra)
		}
	}
}

// TestUninstallOfARenderedRootKnowsEveryFile: the journal render leaves
// lets uninstall on a node booted from the image remove what render wrote.
func TestUninstallOfARenderedRootKnowsEveryFile(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code, err := runInstallCLI(t, "render", "--root", dir, "--config", installTestConfig,
		"--node-ip", "10.0.1.17", "--cgroup", "v2", "--cap-sys-resource", "true", "-o", "json")
	if code != ExitOK {
		t.Fatalf("render: exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	var res render.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	plan, stderr, code, err := runInstallCLI(t, "--root", dir, "--config", installTestConfig, "uninstall", "--dry-run")
	if code != ExitOK {
		t.Fatalf("uninstall --dry-run: exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	for _, f := range res.Files {
		if !strings.Contains(plan, "files: remove "+f.Path+"\n") {
			t.Errorf("uninstall would not remove %s:\n%s", f.Path, plan)
		}
	}
}

// TestRenderWithAnEmptyArtifactsDirExits4 — an offline directory without a
// signed manifest is an artifact failure, and says how to fill one.
func TestRenderWithAnEmptyArtifactsDirExits4(t *testing.T) {
	_, _, code, err := runInstallCLI(t, "render", "--root", t.TempDir(), "--config", installTestConfig,
		"--node-ip", "10.0.1.17", "--artifacts-dir", t.TempDir())
	if code != ExitArtifact || err == nil || !strings.Contains(err.Error(), "artifacts pull") {
		t.Errorf("exit %d, %v; want %d saying how to fill the directory", code, err, ExitArtifact)
	}
}
