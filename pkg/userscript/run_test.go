package userscript

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

const token = "abcdef.0123456789abcdef"

// journal is an in-memory phase.Recorder.
type journal struct {
	mu    sync.Mutex
	files map[string]string
	dirs  []string
}

func (j *journal) File(p, sum string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.files[p] = sum
	return nil
}
func (j *journal) Dir(p string) error       { j.dirs = append(j.dirs, p); return nil }
func (j *journal) Unit(string) error        { return nil }
func (j *journal) Set(string, string) error { return nil }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testDeps(t *testing.T, script string) (Deps, *journal) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(testWriter{t})
	return Deps{
		Root: host.Root{Dir: t.TempDir()},
		Log:  log,
		Config: &config.NodePoolJoin{
			Cluster:  config.Cluster{ID: "cls-m57oxxxp", BootstrapToken: token},
			NodePool: config.NodePool{ID: "np-3kd9a1bc", UserScript: script},
		},
		NodeName: "n1",
		Timeout:  time.Minute,
		Attempts: 3,
		Backoff:  time.Millisecond,
		Grace:    100 * time.Millisecond,
	}, &journal{files: map[string]string{}}
}

// runs counts the lines a script appended to the file counting its runs.
func runs(t *testing.T, p string) int {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestRunWritesMarkerLogAndResult(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	d, j := testDeps(t, "#!/bin/bash\necho hello from the script\necho oops >&2\necho run >> "+count+"\n")
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	sha := SHA256(d.Config.NodePool.UserScript)
	if runs(t, count) != 1 {
		t.Fatalf("script ran %d times, want 1", runs(t, count))
	}
	if _, err := os.Stat(d.Root.Path(MarkerPath(sha))); err != nil {
		t.Errorf("no success marker: %v", err)
	}
	logText := read(t, d.Root.Path(LogPath))
	for _, want := range []string{"attempt 1/3 sha256 " + sha, "hello from the script", "oops", "exit code 0"} {
		if !strings.Contains(logText, want) {
			t.Errorf("log lacks %q:\n%s", want, logText)
		}
	}
	r, ok, err := LastRun(d.Root)
	if err != nil || !ok || !r.Succeeded || r.Attempts != 1 || r.ExitCode != 0 || r.SHA256 != sha || r.LogPath != LogPath {
		t.Errorf("LastRun = %+v, %v, %v", r, ok, err)
	}
	for p, want := range map[string]os.FileMode{Dir: 0o700, ScriptPath: 0o700, LogPath: 0o600, ResultPath: 0o600} {
		if got := mode(t, d.Root.Path(p)); got != want {
			t.Errorf("mode of %s = %o, want %o", p, got, want)
		}
	}
	for _, p := range []string{ScriptPath, ResultPath, MarkerPath(sha)} {
		if _, ok := j.files[p]; !ok {
			t.Errorf("%s not recorded in the journal (%v)", p, j.files)
		}
	}
	if len(j.dirs) == 0 || j.dirs[0] != Dir {
		t.Errorf("directory not recorded: %v", j.dirs)
	}
	if ok, err := Satisfied(d); err != nil || !ok {
		t.Errorf("Satisfied after success = %v, %v", ok, err)
	}
}

func TestRerunSkipsASucceededScriptAndRunsAChangedOne(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	scriptA := "echo a >> " + count + "\n"
	scriptB := "echo b >> " + count + "\n"
	d, j := testDeps(t, scriptA)
	for range 2 {
		if err := Run(context.Background(), d, j); err != nil {
			t.Fatal(err)
		}
	}
	if got := read(t, count); got != "a\n" {
		t.Fatalf("after two runs of the same script the runs were %q, want one", got)
	}

	d.Config.NodePool.UserScript = scriptB
	if ok, _ := Satisfied(d); ok {
		t.Error("Satisfied for a changed script")
	}
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if got := read(t, count); got != "a\nb\n" {
		t.Fatalf("a changed script did not run once: runs %q", got)
	}
	if _, err := os.Stat(d.Root.Path(MarkerPath(SHA256(scriptA)))); !os.IsNotExist(err) {
		t.Errorf("the old script's marker survived: %v", err)
	}

	// Back to the first script: the configuration changed, so it runs again.
	d.Config.NodePool.UserScript = scriptA
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if got := read(t, count); got != "a\nb\na\n" {
		t.Errorf("going back to an earlier script did not run it: runs %q", got)
	}
}

func TestFailingScriptIsRetriedThenReportedWithItsLog(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	d, j := testDeps(t, "echo try >> "+count+"\necho failing on purpose\nexit 3\n")
	err := Run(context.Background(), d, j)
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("Run = %v, want a *FailedError", err)
	}
	if fe.Attempts != 3 || fe.ExitCode != 3 || fe.TimedOut || fe.LogPath != LogPath || !strings.Contains(err.Error(), LogPath) {
		t.Errorf("error = %+v (%v)", fe, err)
	}
	if n := runs(t, count); n != 3 {
		t.Errorf("script ran %d times, want 3", n)
	}
	logText := read(t, d.Root.Path(LogPath))
	if n := strings.Count(logText, "==== exit code 3 ===="); n != 3 {
		t.Errorf("log has %d failed attempts, want 3:\n%s", n, logText)
	}
	for i := 1; i <= 3; i++ {
		if !strings.Contains(logText, "attempt "+strconv.Itoa(i)+"/3") {
			t.Errorf("log lacks the header of attempt %d", i)
		}
	}
	if ok, _ := Satisfied(d); ok {
		t.Error("Satisfied after a failure")
	}
	r, _, _ := LastRun(d.Root)
	if r.Succeeded || r.Attempts != 3 || r.ExitCode != 3 {
		t.Errorf("LastRun = %+v", r)
	}
}

func TestScriptThatFailsOnceSucceedsOnRetry(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	d, j := testDeps(t, "echo try >> "+count+"\n[ $(wc -l < "+count+") -ge 2 ]\n")
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	r, _, _ := LastRun(d.Root)
	if runs(t, count) != 2 || !r.Succeeded || r.Attempts != 2 {
		t.Errorf("runs %d, LastRun %+v; want success at attempt 2", runs(t, count), r)
	}
}

// gone reports whether pid has exited (a zombie counts: it runs no more).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

func TestTimeoutKillsTheWholeProcessGroup(t *testing.T) {
	for _, tt := range []struct{ name, prelude string }{
		{"stops on SIGTERM", ""},
		{"ignores SIGTERM", "trap '' TERM\n"}, // then SIGKILL after the grace period
	} {
		t.Run(tt.name, func(t *testing.T) {
			pids := filepath.Join(t.TempDir(), "pids")
			d, j := testDeps(t, tt.prelude+"sleep 300 &\necho $! >> "+pids+"\nbash -c 'sleep 300; echo grandchild' &\necho $! >> "+pids+"\necho $$ >> "+pids+"\nwait\n")
			d.Timeout = 300 * time.Millisecond
			d.Attempts = 1
			err := Run(context.Background(), d, j)
			var fe *FailedError
			if !errors.As(err, &fe) || !fe.TimedOut {
				t.Fatalf("Run = %v, want a timed-out *FailedError", err)
			}
			var list []int
			for _, f := range strings.Fields(read(t, pids)) {
				pid, _ := strconv.Atoi(f)
				list = append(list, pid)
			}
			if len(list) != 3 {
				t.Fatalf("pids = %v", list)
			}
			// SIGKILL has been sent; wait (bounded) for the kernel to finish them.
			deadline := time.Now().Add(10 * time.Second)
			for _, pid := range list {
				for !gone(pid) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if !gone(pid) {
					t.Errorf("process %d of the script's group survived the timeout", pid)
				}
			}
			if !strings.Contains(read(t, d.Root.Path(LogPath)), "killed after the timeout") {
				t.Error("the log does not say the script was killed at its timeout")
			}
		})
	}
}

func TestScriptEnvironmentAndArguments(t *testing.T) {
	t.Setenv("ADD2TKE_CLUSTER_BOOTSTRAPTOKEN", token)
	out := filepath.Join(t.TempDir(), "env")
	d, j := testDeps(t, "env > "+out+"\ntr '\\0' ' ' < /proc/$$/cmdline > "+out+".argv\n")
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(read(t, out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	want := map[string]string{
		"CLUSTER_ID":   "cls-m57oxxxp",
		"NODE_POOL_ID": "np-3kd9a1bc",
		"NODE_NAME":    "n1",
		"KUBECONFIG":   d.Root.Path(paths.KubeletKubeconfig),
		"KUBECACHEDIR": d.Root.Path(KubeCacheDir),
		"PATH":         d.Root.Path(paths.ToolsDir) + ":" + scriptPATH,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if strings.HasPrefix(k, "ADD2TKE_") {
			t.Errorf("the script inherited %s", k)
		}
	}
	argv := strings.Fields(read(t, out+".argv"))
	if len(argv) != 2 || argv[1] != d.Root.Path(ScriptPath) {
		t.Errorf("argv = %q, want the shell and the script path only", argv)
	}
	for _, p := range []string{out, out + ".argv", d.Root.Path(LogPath), d.Root.Path(ResultPath), d.Root.Path(ScriptPath)} {
		if strings.Contains(read(t, p), "0123456789abcdef") {
			t.Errorf("%s contains the bootstrap token", p)
		}
	}
}

func TestNoScriptNoRun(t *testing.T) {
	d, j := testDeps(t, "")
	if ok, err := Satisfied(d); err != nil || !ok {
		t.Errorf("Satisfied without a script = %v, %v", ok, err)
	}
	if err := Run(context.Background(), d, j); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Root.Path(Dir)); !os.IsNotExist(err) {
		t.Errorf("%s created without a script: %v", Dir, err)
	}
	if _, ok, _ := LastRun(d.Root); ok {
		t.Error("a result was written without a script")
	}
}

func TestMissingShellIsAnError(t *testing.T) {
	d, j := testDeps(t, "true\n")
	d.Shell = "/nonexistent/bash"
	err := Run(context.Background(), d, j)
	var fe *FailedError
	if err == nil || errors.As(err, &fe) || !strings.Contains(err.Error(), "install bash") {
		t.Errorf("Run = %v, want an error saying to install bash", err)
	}
}
