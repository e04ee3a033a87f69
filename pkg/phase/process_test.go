package phase_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// The tests below re-execute the test binary as a second process (the
// standard Go pattern): TestMain turns it into the helper named here.
const helperEnv = "PHASE_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "journal":
		helperJournal(os.Getenv("PHASE_TEST_ROOT"))
	case "lock":
		helperLock(os.Getenv("PHASE_TEST_ROOT"))
	case "signal":
		helperSignal(os.Getenv("PHASE_TEST_ROOT"))
	case "journal-loop":
		helperJournalLoop(os.Getenv("PHASE_TEST_ROOT"))
	}
	os.Exit(3)
}

// crashPhases are three phases; the second blocks after writing when block
// is true, so the process can be killed inside it.
func crashPhases(root host.Root, block bool) []phase.Phase {
	return []phase.Phase{
		{Name: "runtime", Description: "install the runtime", Run: func(ctx context.Context, rec phase.Recorder) error {
			if _, err := root.WriteFile(rec, "/etc/containerd/config.toml", []byte("version = 3\n"), 0o644); err != nil {
				return err
			}
			return rec.Unit("containerd.service")
		}},
		{Name: "kubelet", Description: "install kubelet", Run: func(ctx context.Context, rec phase.Recorder) error {
			if _, err := root.WriteFile(rec, "/etc/kubernetes/bootstrap-kubelet.conf", []byte("kubeconfig\n"), 0o600); err != nil {
				return err
			}
			if block {
				fmt.Println("READY")
				_, _ = io.Copy(io.Discard, os.Stdin) // killed here; stdin stays open
				return errors.New("stdin closed before the kill")
			}
			return nil
		}},
		{Name: "join", Description: "join the cluster", Run: func(ctx context.Context, rec phase.Recorder) error {
			_, err := root.WriteFile(rec, "/var/lib/kubelet/joined", []byte("yes\n"), 0o644)
			return err
		}},
	}
}

func helperJournal(dir string) {
	_, err := phase.Run(context.Background(), crashPhases(host.Root{Dir: dir}, true), phase.Options{Root: dir})
	fmt.Fprintln(os.Stderr, "helper: the run returned:", err)
	os.Exit(4)
}

func helperLock(dir string) {
	l, err := phase.AcquireLock(context.Background(), dir, "add2tkectl install --config /etc/add2tke/pool.yaml", time.Minute, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(4)
	}
	fmt.Println("LOCKED")
	_, _ = io.Copy(io.Discard, os.Stdin) // hold until the test closes stdin
	if err := l.Release(); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(5)
	}
	os.Exit(0)
}

// helperSignal runs two phases under a context that SIGTERM cancels, as
// pkg/cli sets it up; the first phase finishes its step when signalled.
func helperSignal(dir string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	root := host.Root{Dir: dir}
	phases := []phase.Phase{
		{Name: "download", Description: "download", Run: func(ctx context.Context, rec phase.Recorder) error {
			fmt.Println("READY")
			<-ctx.Done() // the step in progress ends, the phase returns
			_, err := root.WriteFile(rec, "/var/cache/add2tke/kubelet", []byte("complete\n"), 0o644)
			return err
		}},
		{Name: "kubelet", Description: "kubelet", Run: func(ctx context.Context, rec phase.Recorder) error {
			_, err := root.WriteFile(rec, "/etc/kubernetes/kubelet.conf", []byte("x"), 0o600)
			return err
		}},
	}
	_, err := phase.Run(ctx, phases, phase.Options{Root: dir})
	fmt.Println(err)
	os.Exit(0)
}

// startHelper runs the named helper and waits for its first stdout line.
func startHelper(t *testing.T, name, dir, want string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+name, "PHASE_TEST_ROOT="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != want {
		t.Fatalf("helper %s said %q (%v), want %q", name, line, err, want)
	}
	return cmd, stdin
}

func TestJournalSurvivesKillInsideAPhase(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := startHelper(t, "journal", dir, "READY")
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no chance to clean up
		t.Fatal(err)
	}
	_ = cmd.Wait()

	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatalf("the journal left by a killed run does not load: %v", err)
	}
	if rec := j.Phase("runtime"); rec == nil || rec.Status != phase.StatusDone || len(rec.Units) != 1 {
		t.Errorf("runtime record %+v: want done with its unit", rec)
	}
	rec := j.Phase("kubelet")
	if rec == nil || rec.Status != phase.StatusRunning {
		t.Fatalf("kubelet record %+v: want running (killed inside)", rec)
	}
	if j.Phase("join") != nil {
		t.Error("the journal lists a phase the killed run never reached")
	}
	if got := j.Interrupted(); len(got) != 1 || got[0] != "kubelet" {
		t.Errorf("interrupted phases %v, want [kubelet]", got)
	}
	root := host.Root{Dir: dir}
	files := j.Files()
	if len(files) != 2 {
		t.Fatalf("journal lists %+v, want the two files written before the kill", files)
	}
	for _, f := range files {
		sum, err := root.FileSHA256(f.Path)
		if err != nil || sum != f.SHA256 {
			t.Errorf("%s: on disk sha256 %q (%v), journal says %q", f.Path, sum, err, f.SHA256)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, "var/lib/add2tkectl/*")); len(matches) != 1 {
		t.Errorf("state directory holds %v, want only state.json (no temp files left)", matches)
	}

	// The next run completes where the killed one stopped.
	if _, err := phase.Run(context.Background(), crashPhases(root, false), phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	if j, err = phase.LoadJournal(dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"runtime", "kubelet", "join"} {
		if rec := j.Phase(n); rec == nil || rec.Status != phase.StatusDone {
			t.Errorf("after the re-run, %s is %+v, want done", n, rec)
		}
	}
	if len(j.Interrupted()) != 0 || len(j.Files()) != 3 {
		t.Errorf("after the re-run: interrupted %v, files %+v", j.Interrupted(), j.Files())
	}
}

func TestSIGTERMStopsCleanlyBetweenPhases(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=signal", "PHASE_TEST_ROOT="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); strings.TrimSpace(line) != "READY" {
		t.Fatalf("helper said %q (%v)", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the signalled run did not end cleanly: %v", err)
	}
	if want := "stopped before phase kubelet (terminated signal received)"; !strings.Contains(string(rest), want) {
		t.Errorf("the run returned %q, want it to contain %q", rest, want)
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec := j.Phase("download"); rec == nil || rec.Status != phase.StatusDone || len(rec.Files) != 1 {
		t.Errorf("download record %+v: want done, with the file its last step wrote", rec)
	}
	if j.Phase("kubelet") != nil {
		t.Error("the phase after the signal started")
	}
}

func TestLockExcludesASecondProcessAndNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	cmd, stdin := startHelper(t, "lock", dir, "LOCKED")

	_, err := phase.AcquireLock(context.Background(), dir, "add2tkectl install", 300*time.Millisecond, nil)
	var le *phase.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second run got %v, want a *LockedError", err)
	}
	for _, want := range []string{fmt.Sprintf("pid %d:", cmd.Process.Pid), "add2tkectl install --config /etc/add2tke/pool.yaml", filepath.Join(dir, paths.LockPath), "--timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	// A run that waits long enough gets the lock when the holder releases it.
	got := make(chan error, 1)
	go func() {
		l, err := phase.AcquireLock(context.Background(), dir, "add2tkectl install", time.Hour, nil)
		if err == nil {
			err = l.Release()
		}
		got <- err
	}()
	_ = stdin.Close()
	if err := <-got; err != nil {
		t.Errorf("the waiting run did not get the released lock: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("helper: %v", err)
	}
}

func TestLockOfAKilledHolderIsFree(t *testing.T) {
	dir := t.TempDir()
	cmd, _ := startHelper(t, "lock", dir, "LOCKED")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Timeout zero: the lock must be free at once, stale holder text or not.
	l, err := phase.AcquireLock(context.Background(), dir, "add2tkectl install", 0, nil)
	if err != nil {
		t.Fatalf("lock of a killed process: %v", err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, paths.LockPath))
	if !strings.Contains(string(b), fmt.Sprintf("pid %d:", os.Getpid())) {
		t.Errorf("lock content %q does not name the new holder", b)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, paths.LockPath)); len(b) != 0 {
		t.Errorf("released lock still names a holder: %q", b)
	}
}

func TestLockWaitStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	startHelper(t, "lock", dir, "LOCKED")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := phase.AcquireLock(ctx, dir, "add2tkectl install", time.Hour, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want the cancellation", err)
	}
}

func TestLockOwnerIsRedacted(t *testing.T) {
	dir := t.TempDir()
	l, err := phase.AcquireLock(context.Background(), dir, "add2tkectl install --set cluster.bootstrapToken=abcdef.0123456789abcdef", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	path := filepath.Join(dir, paths.LockPath)
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "0123456789abcdef") {
		t.Errorf("lock file leaks the token: %q", b)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
}

// TestAWiderOldLockFileIsMadePrivate: a lock file left at 0644 (made by
// hand, or by an older version) is 0600 before it names the holder.
func TestAWiderOldLockFileIsMadePrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, paths.LockPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := phase.AcquireLock(context.Background(), dir, "add2tkectl install", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v (%v), want 0600", info.Mode().Perm(), err)
	}
}
