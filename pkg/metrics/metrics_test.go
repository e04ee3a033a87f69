package metrics

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

var (
	build    = Build{Version: "v1.4.0", Commit: "0123abc", GoVersion: "go1.26.8"}
	finished = time.Date(2026, 12, 2, 17, 0, 0, 500_000_000, time.UTC)
	install  = Run{Command: "install", Success: true, Finished: finished, Seconds: 73.25, Changed: true, Phases: []Phase{
		{Name: "preflight", Seconds: 1.5}, {Name: "artifacts", Seconds: 40}, {Name: "kubelet", Seconds: 2.75},
	}}
	statusRun = Run{Command: "status", Success: false, Finished: finished.Add(time.Minute), Seconds: 0.5, Health: &Health{
		Healthy: false, Drift: true, Components: []Component{{Name: "kubelet", Healthy: true}, {Name: "node", Healthy: false}},
	}}
)

func TestRenderInstallGolden(t *testing.T) {
	b, err := Render(nil, build, install)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "install.prom", b)
}

func TestRenderKeepsOtherCommandsSeries(t *testing.T) {
	first, err := Render(nil, build, install)
	if err != nil {
		t.Fatal(err)
	}
	// status after install: install's series stay, status's join them.
	b, err := Render(first, build, statusRun)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "install-then-status.prom", b)

	// A second install replaces its own series, phases included (a phase
	// it no longer reached goes), and keeps status's health.
	again := install
	again.Changed, again.Seconds = false, 3
	again.Phases = []Phase{{Name: "preflight", Seconds: 1}}
	b, err = Render(b, Build{Version: "v1.5.0", Commit: "4567def", GoVersion: "go1.26.8"}, again)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`add2tkectl_build_info{commit="4567def",goversion="go1.26.8",version="v1.5.0"} 1`,
		`add2tkectl_last_run_changed{command="install"} 0`,
		`add2tkectl_last_run_duration_seconds{command="status"} 0.5`,
		`add2tkectl_phase_duration_seconds{command="install",phase="preflight"} 1`,
		`add2tkectl_status_drift 1`,
		`add2tkectl_status_component_healthy{component="node"} 0`,
	} {
		if !strings.Contains(s, want+"\n") {
			t.Errorf("lacks %s:\n%s", want, s)
		}
	}
	for _, gone := range []string{`version="v1.4.0"`, `phase="artifacts"`, `add2tkectl_last_run_changed{command="install"} 1`} {
		if strings.Contains(s, gone) {
			t.Errorf("still has %s:\n%s", gone, s)
		}
	}
	// A damaged file before is replaced, not a failure.
	if _, err := Render([]byte("not { metrics"), build, install); err != nil {
		t.Errorf("damaged file before: %v", err)
	}
}

func TestWriteIsAtomicUnderRoot(t *testing.T) {
	root := host.Root{Dir: t.TempDir()}
	dir := "/var/lib/node_exporter/textfile_collector"
	p, err := Write(root, dir, build, install)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root.Dir, dir, FileName); p != want {
		t.Errorf("path %s, want %s", p, want)
	}
	if _, err := Write(root, dir, build, statusRun); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := Render(mustRender(t, nil, install), build, statusRun)
	if !bytes.Equal(got, want) {
		t.Errorf("written file differs from Render:\n%s\nwant:\n%s", got, want)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("the textfile directory holds %d entries, want only %s (no temporary file left)", len(ents), FileName)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 for node_exporter", st.Mode().Perm())
	}
	if _, err := Write(root, "relative", build, install); err == nil {
		t.Error("a relative directory was accepted")
	}
}

func mustRender(t *testing.T, old []byte, r Run) []byte {
	t.Helper()
	b, err := Render(old, build, r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPromtoolAcceptsTheFile checks the file as Prometheus's own linter
// does. CI installs promtool (scripts/ci-deps.sh); there its absence fails.
func TestPromtoolAcceptsTheFile(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not on PATH; scripts/ci-deps.sh installs it (Debian's prometheus package)")
		}
		t.Skip("promtool is not on PATH (scripts/ci-deps.sh installs it)")
	}
	for name, b := range map[string][]byte{
		"install":             mustRender(t, nil, install),
		"install then status": mustRender(t, mustRender(t, nil, install), statusRun),
	} {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("%s: promtool check metrics: %v\n%s\nfile:\n%s", name, err, out, b)
		}
	}
}
