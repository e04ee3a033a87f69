package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/internal/treetest"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

const installTestConfig = "../../testdata/config/good/containerd.yaml"

// installPhaseOrder is the contract of DESIGN section 3.
var installPhaseOrder = []string{"preflight", "download", "host", "runtime", "images", "kubelet", "join", "userscript"}

// runInstallCLI runs the command tree as Main does and returns stdout,
// stderr, the exit code and the error.
func runInstallCLI(t *testing.T, args ...string) (string, string, int, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &Globals{Executable: os.Args[0], Stdout: &stdout, Stderr: &stderr, Dialer: loopbackOnly{}}
	root := NewRootCommand(g)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), ExitCode(err), err
}

func hostWithFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range []string{"etc/hostname", "etc/os-release", "proc/sys/kernel/hostname", "var/lib/add2tkectl/.keep"} {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(p+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInstallDryRunChangesNothing(t *testing.T) {
	dir := hostWithFiles(t)
	before := treetest.Snapshot(t, dir)
	stdout, stderr, code, err := runInstallCLI(t, "install", "--dry-run", "--root", dir, "--config", installTestConfig, "-o", "json", "--skip-phases", "preflight,userscript")
	if code != ExitOK {
		t.Fatalf("exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	if diff := cmp.Diff(before, treetest.Snapshot(t, dir)); diff != "" {
		t.Errorf("install --dry-run changed the root (-before +after):\n%s", diff)
	}
	var res phase.Result
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not one result object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one object:\n%s", stdout)
	}
	var names []string
	for _, p := range res.Phases {
		names = append(names, p.Name)
		want := phase.StatusPlanned
		if p.Name == "userscript" || p.Name == "preflight" {
			want = phase.StatusSkipped
		}
		if p.Status != want || p.Description == "" {
			t.Errorf("phase %s: status %q description %q, want %q with a description", p.Name, p.Status, p.Description, want)
		}
	}
	if diff := cmp.Diff(installPhaseOrder, names); diff != "" {
		t.Errorf("install phases (-want +got):\n%s", diff)
	}
	if !res.DryRun || res.Changed {
		t.Errorf("result dryRun=%v changed=%v, want true and false", res.DryRun, res.Changed)
	}
}

func TestInstallDryRunPrintsThePlanAsText(t *testing.T) {
	dir := hostWithFiles(t)
	stdout, stderr, code, err := runInstallCLI(t, "install", "--dry-run", "--root", dir, "--config", installTestConfig, "--skip-phases", "preflight,images,userscript")
	if code != ExitOK {
		t.Fatalf("exit %d (%v); stderr:\n%s", code, err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 1+len(installPhaseOrder)+1 || !strings.HasPrefix(lines[0], "PHASE") {
		t.Fatalf("plan:\n%s", stdout)
	}
	for i, name := range installPhaseOrder {
		fields := strings.Fields(lines[i+1])
		want := "would"
		if name == "preflight" || name == "images" || name == "userscript" {
			want = "skipped"
		}
		if fields[0] != name || fields[1] != want {
			t.Errorf("plan line %d %q: want phase %s %s", i+1, lines[i+1], name, want)
		}
	}
	if !strings.Contains(lines[4], "containerd") {
		t.Errorf("the runtime phase does not say which runtime: %q", lines[4])
	}
}

func TestInstallRefusesUnknownSkipPhase(t *testing.T) {
	dir := t.TempDir()
	_, _, code, err := runInstallCLI(t, "install", "--root", dir, "--config", installTestConfig, "--skip-phases", "kubelett")
	if code != ExitUsage {
		t.Errorf("exit %d, want %d (usage)", code, ExitUsage)
	}
	want := `--skip-phases: unknown phase "kubelett": the phases are ` + strings.Join(installPhaseOrder, ", ")
	if err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused install left %v under the root", entries)
	}
}

// expiredCOS answers every request as COS answers a presigned link past
// its q-key-time.
func expiredCOS(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version='1.0' encoding='utf-8' ?><Error><Code>AccessDenied</Code><Message>Request has expired</Message><Resource>/manifest.json</Resource><RequestId>NjQ</RequestId></Error>`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/manifest.json"
}

// A failing phase stops install with its exit code (5: the link expired),
// the result on stdout, progress on stderr, the journal, the log file
// without secrets, and the lock released.
func TestInstallStopsAtAFailingPhaseWithItsExitCode(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code, err := runInstallCLI(t, "install", "--root", dir, "--config", installTestConfig, "-o", "json",
		"--skip-phases", "preflight", "--set", "artifacts.manifestURL="+expiredCOS(t))
	if code != ExitExpired || err == nil || !strings.Contains(err.Error(), "regenerate the script in the console") {
		t.Fatalf("exit %d, error %v; want 5 and the expired-link message", code, err)
	}
	var res phase.Result
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not the result object: %v\n%s", err, stdout)
	}
	if len(res.Phases) != 2 || res.Phases[0].Status != phase.StatusSkipped || res.Phases[1].Status != phase.StatusFailed || len(res.NotRun) != len(installPhaseOrder)-2 {
		t.Errorf("result %+v: want preflight skipped, download failed and the other phases not run", res)
	}
	if !strings.Contains(stderr, "[2/8] download: download and verify the signed artifacts …") ||
		!strings.Contains(stderr, "[2/8] download: failed after ") {
		t.Errorf("stderr lacks the progress lines:\n%s", stderr)
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec := j.Phase("download"); rec == nil || rec.Status != phase.StatusFailed {
		t.Errorf("journal of download %+v, want failed", rec)
	}
	// The lock was released: it exists, names nobody, and is free.
	if b, err := os.ReadFile(filepath.Join(dir, paths.LockPath)); err != nil || len(b) != 0 {
		t.Errorf("lock file after the run: %q (%v), want empty", b, err)
	}
	l, err := phase.AcquireLock(context.Background(), dir, "test", 0, nil)
	if err != nil {
		t.Fatalf("the lock is still held after install returned: %v", err)
	}
	_ = l.Release()
	logFile := filepath.Join(dir, paths.LogPath)
	info, err := os.Stat(logFile)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("log file %s: %v (mode %v), want it with mode 0600", logFile, err, info.Mode().Perm())
	}
	b, _ := os.ReadFile(logFile)
	if strings.Contains(string(b), "0123456789abcdef") {
		t.Errorf("log file leaks the bootstrap token:\n%s", b)
	}
	if !strings.Contains(string(b), `"phase":"download"`) {
		t.Errorf("log file does not record the phase:\n%s", b)
	}
}

func TestInstallWaitsForTheLockAndNamesItsHolder(t *testing.T) {
	dir := t.TempDir()
	// flock locks of two open files conflict even within one process.
	held, err := phase.AcquireLock(context.Background(), dir, "add2tkectl install (cloud-init)", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	_, stderr, code, err := runInstallCLI(t, "install", "--root", dir, "--config", installTestConfig, "--timeout", "200ms")
	var le *phase.LockedError
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), fmt.Sprintf("pid %d: add2tkectl install (cloud-init)", os.Getpid())) {
		t.Fatalf("exit %d, error %v: want exit 1 naming the holder", code, err)
	}
	if !errors.As(err, &le) || le.Waited != 200*time.Millisecond {
		t.Errorf("error %v is not a *phase.LockedError after 200ms", err)
	}
	if !strings.Contains(stderr, "waiting up to 200ms for another add2tkectl run") {
		t.Errorf("stderr does not say it waits:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, paths.JournalPath)); err == nil {
		t.Error("a run that did not get the lock wrote the journal")
	}
}

func TestSignalCancelsTheRunContext(t *testing.T) {
	log, closeLog, err := newLogger(&Globals{LogLevel: "error", Root: t.TempDir()}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer closeLog()
	ctx, stop := signalContext(context.Background(), log)
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-ctx.Done()
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "terminated") {
		t.Errorf("cause %v, want the SIGTERM", cause)
	}
}
