package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCloudInitHashesTheBundledBinaryItself: the user-data carries the
// sha256 of the very binary that printed it, and no secret of its payload.
func TestCloudInitHashesTheBundledBinaryItself(t *testing.T) {
	dir := t.TempDir()
	bin := buildAdd2tkectl(t, dir)
	cfg, _ := filepath.Abs("../../testdata/config/good/containerd.yaml")
	if r := run(t, bin, nil, "bundle", "--config", cfg, "--out", dir); r.code != 0 {
		t.Fatalf("bundle: %d %s", r.code, r.stderr)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "add2tkectl-cls-*"))
	if len(matches) != 1 {
		t.Fatalf("bundled binaries: %v", matches)
	}
	bundled := matches[0]
	b, err := os.ReadFile(bundled)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	url := "http://mirror.internal/" + filepath.Base(bundled)
	r := run(t, bundled, nil, "cloud-init", "--url", url)
	if r.code != 0 {
		t.Fatalf("cloud-init: exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"#cloud-config\n", hex.EncodeToString(sum[:]), url, "/usr/local/bin/" + filepath.Base(bundled) + " cloud-init run"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("user-data lacks %q:\n%s", want, r.stdout)
		}
	}
	token := "abcdef.0123456789abcdef"
	if c, _ := os.ReadFile(cfg); !strings.Contains(string(c), "bootstrapToken") {
		t.Fatal("the sample configuration has no bootstrap token to look for")
	}
	for _, secret := range []string{token, "bootstrapToken", "q-signature", "BEGIN"} {
		if strings.Contains(r.stdout, secret) {
			t.Errorf("user-data contains %q", secret)
		}
	}

	// Refused, exit 2, each saying what to do.
	for _, c := range []struct {
		bin  string
		args []string
		want string
	}{
		{bin, []string{"cloud-init", "--url", url}, "carries no node pool configuration"},
		{bundled, []string{"cloud-init"}, "needs --url"},
		{bundled, []string{"cloud-init", "--url", url + "?q-signature=x"}, "query string"},
		{bundled, []string{"cloud-init", "--url", url, "--set", "nodePool.cordon=true"}, "bundle a new binary"},
	} {
		r := run(t, c.bin, nil, c.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s %v: exit %d, stderr %q; want 2 and %q", filepath.Base(c.bin), c.args, r.code, r.stderr, c.want)
		}
	}
}
