package cli

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// archiveEntries reads a debug archive: entry name without its top
// directory → content.
func archiveEntries(t *testing.T, r io.Reader) map[string]string {
	t.Helper()
	gz, err := gzip.NewReader(r)
	if err != nil {
		t.Fatalf("not a gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		_, name, _ := strings.Cut(h.Name, "/")
		out[name] = string(b)
	}
}

// debug on a root where install never ran, with the configuration's token
// planted in a file: exit 0, a 0600 archive with the status report of a
// node not installed, and the token's secret nowhere in it.
func TestDebugWritesAnArchiveWithTheStatusAndNoSecret(t *testing.T) {
	dir := hostWithFiles(t)
	const token = "abcdef.0123456789abcdef" // testdata/config/good/containerd.yaml
	kc := filepath.Join(dir, "etc/kubernetes/kubelet.conf")
	if err := os.MkdirAll(filepath.Dir(kc), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kc, []byte("users: [{name: u, user: {token: "+token+"}}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "node.tar.gz")
	stdout, stderr, code, err := runInstallCLI(t, "debug", "--root", dir, "--config", installTestConfig, "--out", out, "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	var res DebugResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Archive != out || res.Size == 0 || res.Entries == 0 {
		t.Fatalf("result %+v (%v):\n%s", res, err, stdout)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != res.Size {
		t.Fatalf("archive %v, %v; want mode 600 and %d bytes", st, err, res.Size)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	entries := archiveEntries(t, f)
	if !strings.Contains(entries["status.json"], `"not installed"`) {
		t.Errorf("status.json is not the report of a node not installed:\n%s", entries["status.json"])
	}
	if !strings.Contains(entries["version.txt"], "add2tkectl "+version) {
		t.Errorf("version.txt: %q", entries["version.txt"])
	}
	if _, ok := entries["files/etc/kubernetes/kubelet.conf"]; !ok {
		t.Error("the archive has no kubelet.conf")
	}
	for name, data := range entries {
		if strings.Contains(data, "0123456789abcdef") {
			t.Errorf("%s holds the token's secret:\n%s", name, data)
		}
	}
}

// --out - writes the archive to stdout; a configuration that does not
// load is recorded in it, not fatal.
func TestDebugToStdoutWithoutAConfiguration(t *testing.T) {
	dir := hostWithFiles(t)
	stdout, stderr, code, err := runInstallCLI(t, "debug", "--root", dir, "--out", "-")
	if code != ExitOK {
		t.Fatalf("exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	entries := archiveEntries(t, strings.NewReader(stdout))
	if entries["config-error.txt"] == "" {
		t.Errorf("no config-error.txt in the archive of a host without a configuration; entries: %d", len(entries))
	}
	if _, ok := entries["index.json"]; !ok {
		t.Error("no index.json")
	}
}

func TestDebugRefusesANonPositiveTimeout(t *testing.T) {
	_, _, code, err := runInstallCLI(t, "debug", "--root", t.TempDir(), "--timeout", "0s", "--out", "-")
	if code != ExitUsage || err == nil || !strings.Contains(err.Error(), "--timeout") {
		t.Errorf("exit %d, err %v; want 2 naming --timeout", code, err)
	}
}
