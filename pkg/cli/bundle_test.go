package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// buildAdd2tkectl builds the real command into dir, as make build does.
func buildAdd2tkectl(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "add2tkectl")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/add2tkectl")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type runResult struct {
	stdout, stderr string
	code           int
}

// run starts the binary as an operator would, with no ADD2TKE_ variables.
func run(t *testing.T, bin string, env []string, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return runResult{stdout.String(), stderr.String(), code}
}

func copyFile(t *testing.T, src, dst string, mutate func([]byte)) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(b)
	}
	if err := os.WriteFile(dst, b, 0o700); err != nil {
		t.Fatal(err)
	}
}

func size(t *testing.T, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func TestBundleRoundTripThroughABuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildAdd2tkectl(t, dir)
	cfg, err := filepath.Abs(goodConfig)
	if err != nil {
		t.Fatal(err)
	}

	// Bundle with the plain binary: the result is named after the IDs, 0700.
	out := filepath.Join(dir, "dist")
	r := run(t, bin, nil, "bundle", "--config", cfg, "--out", out)
	bundled := filepath.Join(out, "add2tkectl-cls-m57oxxxp-np-3kd9a1bc")
	if r.code != 0 || strings.TrimSpace(r.stdout) != bundled {
		t.Fatalf("bundle: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	st, err := os.Stat(bundled)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("bundled file: %v mode %v, want 0700", err, st.Mode().Perm())
	}

	// The bundled binary carries its configuration: no --config needed.
	r = run(t, bundled, nil, "config", "view", "-o", "json")
	if r.code != 0 {
		t.Fatalf("config view: exit %d\n%s", r.code, r.stderr)
	}
	var c config.NodePoolJoin
	if err := json.Unmarshal([]byte(r.stdout), &c); err != nil {
		t.Fatalf("config view -o json: %v\n%s", err, r.stdout)
	}
	if c.Cluster.ID != "cls-m57oxxxp" || c.NodePool.ID != "np-3kd9a1bc" || c.NodePool.Labels[config.LabelLocation] != "idc-sh-01" {
		t.Errorf("bundled configuration: %s/%s %v", c.Cluster.ID, c.NodePool.ID, c.NodePool.Labels)
	}
	if c.Cluster.BootstrapToken != "abcdef.REDACTED" || !strings.HasSuffix(c.Artifacts.ManifestURL, "/np-3kd9a1bc/manifest.json?REDACTED") {
		t.Errorf("not redacted: token %q manifest %q", c.Cluster.BootstrapToken, c.Artifacts.ManifestURL)
	}
	if strings.Contains(r.stdout+r.stderr, tokenSecret) || strings.Contains(r.stdout+r.stderr, presignSecret) {
		t.Errorf("config view leaks a secret:\n%s", r.stdout)
	}

	// The environment sits above the payload.
	r = run(t, bundled, []string{"ADD2TKE_NODEPOOL_CORDON=true"}, "config", "validate")
	if r.code != 0 || !strings.Contains(r.stdout, "environment ADD2TKE_NODEPOOL_CORDON") || !strings.Contains(r.stdout, "payload bundled into "+bundled) {
		t.Errorf("validate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Renamed to another pool's name: refused with exit 2.
	wrong := filepath.Join(dir, "add2tkectl-cls-xxxxxxxx-np-yyyyyyyy")
	copyFile(t, bundled, wrong, nil)
	r = run(t, wrong, nil, "config", "view")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "does not match the configuration bundled into it") || !strings.Contains(r.stderr, "add2tkectl-cls-m57oxxxp-np-3kd9a1bc") {
		t.Errorf("mismatching name: exit %d, want 2\n%s", r.code, r.stderr)
	}

	// A damaged payload: refused with exit 2.
	damaged := filepath.Join(dir, "damaged", "add2tkectl-cls-m57oxxxp-np-3kd9a1bc")
	os.MkdirAll(filepath.Dir(damaged), 0o755)
	copyFile(t, bundled, damaged, func(b []byte) { b[len(b)-100] ^= 0x20 })
	r = run(t, damaged, nil, "config", "view")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "damaged") {
		t.Errorf("damaged payload: exit %d, want 2\n%s", r.code, r.stderr)
	}

	// Re-bundling a bundled binary replaces its payload: same size, same bytes.
	again := filepath.Join(dir, "again")
	r = run(t, bundled, nil, "bundle", "--config", cfg, "--out", again)
	if r.code != 0 {
		t.Fatalf("re-bundle: exit %d\n%s", r.code, r.stderr)
	}
	first, _ := os.ReadFile(bundled)
	second, _ := os.ReadFile(filepath.Join(again, "add2tkectl-cls-m57oxxxp-np-3kd9a1bc"))
	if !bytes.Equal(first, second) {
		t.Errorf("re-bundled binary differs: %d bytes, first %d: payloads stacked", len(second), len(first))
	}
	// And a different configuration swaps it, on top of the plain size only.
	r = run(t, bundled, nil, "bundle", "--config", cfg, "--set", "nodePool.id=np-zzzzzzzz", "--out", again, "-o", "json")
	var res BundleResult
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil {
		t.Fatalf("re-bundle with --set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if want := size(t, bin) + int64(res.PayloadBytes) + 56; res.Bytes != want || size(t, res.Path) != want {
		t.Errorf("re-bundled size %d, want plain %d + payload %d + trailer 56", res.Bytes, size(t, bin), res.PayloadBytes)
	}
	r = run(t, res.Path, nil, "config", "view", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"np-zzzzzzzz"`) {
		t.Errorf("re-bundled binary: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
