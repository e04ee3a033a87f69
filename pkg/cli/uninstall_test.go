package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/internal/treetest"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// journaledRoot is a root where an install recorded two files and a
// directory, next to a file that is not ours and the install's log.
func journaledRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := host.Root{Dir: dir}
	for p, data := range map[string]string{"/etc/hostname": "Node-1\n", "/etc/operator.conf": "mine\n", paths.LogPath: "{}\n"} {
		if err := os.MkdirAll(filepath.Dir(root.Path(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ph := phase.Phase{Name: "kubelet", Run: func(_ context.Context, rec phase.Recorder) error {
		if err := rec.Dir("/etc/kubernetes"); err != nil {
			return err
		}
		for _, p := range []string{"/etc/kubernetes/pki/ca.crt", "/usr/local/bin/kubelet"} {
			if _, err := root.WriteFile(rec, p, []byte("x"), 0o644); err != nil {
				return err
			}
		}
		return nil
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{ph}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUninstallDryRunListsTheActionsAndChangesNothing(t *testing.T) {
	dir := journaledRoot(t)
	before := treetest.Snapshot(t, dir)
	stdout, stderr, code, err := runInstallCLI(t, "--root", dir, "--config", installTestConfig, "uninstall", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	for _, want := range []string{"files: remove /usr/local/bin/kubelet", "files: remove /etc/kubernetes/ and everything in it", "state: remove /var/lib/add2tkectl/", "dry run: nothing was changed"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if diff := cmp.Diff(before, treetest.Snapshot(t, dir)); diff != "" {
		t.Fatalf("dry run changed the root:\n%s", diff)
	}
}

func TestUninstallRemovesTheJournalsFilesThenIsANoOp(t *testing.T) {
	dir := journaledRoot(t)
	stdout, stderr, code, err := runInstallCLI(t, "--root", dir, "--config", installTestConfig, "-o", "json", "uninstall")
	if code != 0 {
		t.Fatalf("exit %d: %v\n%s", code, err, stderr)
	}
	var res struct {
		Changed bool                `json:"changed"`
		Plan    map[string][]string `json:"plan"`
		Phases  []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("-o json: %v\n%s", err, stdout)
	}
	if !res.Changed || len(res.Phases) != 7 || len(res.Plan["files"]) != 3 {
		t.Errorf("result: %+v", res)
	}
	for _, p := range []string{"/etc/kubernetes", "/usr/local/bin/kubelet", "/var/lib/add2tkectl"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	for _, p := range []string{"/etc/operator.conf", paths.LogPath} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	stdout, _, code, err = runInstallCLI(t, "--root", dir, "--config", installTestConfig, "uninstall")
	if code != 0 || !strings.Contains(stdout, "changed: no") {
		t.Fatalf("second uninstall: exit %d, %v\n%s", code, err, stdout)
	}
}
