package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/preflight"
)

const preflightTestConfig = "../../testdata/config/good/containerd.yaml"

func runPreflightCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &Globals{Executable: os.Args[0], Stdout: &stdout, Stderr: &stderr, Dialer: loopbackOnly{}}
	root := NewRootCommand(g)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		stderr.WriteString("error: " + err.Error() + "\n")
	}
	return stdout.String(), stderr.String(), ExitCode(err)
}

// A root directory with no /proc and no systemd fails several checks: the
// command reports all of them, exits 3, and --ignore-preflight-errors=all
// turns that into 0.
func TestPreflightCommandExitsThreeListingEveryFailure(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runPreflightCLI(t, "preflight", "--root", root, "--config", preflightTestConfig, "-o", "json")
	if code != ExitPreflight {
		t.Fatalf("exit %d, want %d\nstderr: %s", code, ExitPreflight, stderr)
	}
	var rep preflight.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, stdout)
	}
	if len(rep.Results) != len(preflight.Checks()) {
		t.Errorf("%d results, want one per check (%d)", len(rep.Results), len(preflight.Checks()))
	}
	failed := map[string]bool{}
	for _, r := range rep.Results {
		if r.Verdict == preflight.Error {
			failed[r.Name] = true
			if !strings.Contains(stderr, r.Name+": ") {
				t.Errorf("stderr does not list failed check %s:\n%s", r.Name, stderr)
			}
		}
	}
	for _, want := range []string{"systemd", "kernel", "hostname"} {
		if !failed[want] {
			t.Errorf("check %s did not fail on an empty root", want)
		}
	}
	for _, secret := range []string{"0123456789abcdef0123456789abcdef01234567", "abcdef.0123456789abcdef", "AKIDEXAMPLE"} {
		if strings.Contains(stdout+stderr, secret) {
			t.Errorf("output contains the secret %q", secret)
		}
	}

	stdout, stderr, code = runPreflightCLI(t, "preflight", "--root", root, "--config", preflightTestConfig, "--ignore-preflight-errors=all")
	if code != ExitOK {
		t.Errorf("with --ignore-preflight-errors=all: exit %d\n%s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "CHECK") || !strings.Contains(stdout, "ignored") || !strings.Contains(stdout, "fix: ") {
		t.Errorf("text report:\n%s", stdout)
	}
}

func TestPreflightCommandRefusesAnUnknownCheckName(t *testing.T) {
	_, stderr, code := runPreflightCLI(t, "preflight", "--ignore-preflight-errors=swap,no-such-check")
	if code != ExitUsage || !strings.Contains(stderr, `no check named "no-such-check"`) {
		t.Errorf("exit %d, stderr %q; want exit 2 naming the bad check", code, stderr)
	}
}
