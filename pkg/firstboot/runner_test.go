package firstboot

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

type fakeHost struct {
	root   string
	boot   string
	slept  []time.Duration
	now    time.Time
	runs   int
	script []Outcome // what each install run returns, in order
}

func newFakeHost(t *testing.T, script ...Outcome) *fakeHost {
	return &fakeHost{root: t.TempDir(), boot: "boot-1", now: time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), script: script}
}

func (h *fakeHost) runner() *Runner {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return &Runner{
		Root: h.root,
		Log:  log,
		Install: func(context.Context) Outcome {
			o := h.script[h.runs]
			h.runs++
			h.now = h.now.Add(10 * time.Second)
			return o
		},
		Sleep:  func(_ context.Context, d time.Duration) error { h.slept = append(h.slept, d); return nil },
		Now:    func() time.Time { return h.now },
		BootID: func() (string, error) { return h.boot, nil },
	}
}

func (h *fakeHost) result(t *testing.T) *Result {
	t.Helper()
	r, err := ReadResult(h.root)
	if err != nil || r == nil {
		t.Fatalf("result: %v %v", r, err)
	}
	return r
}

func TestRunnerRecordsTryingThenJoined(t *testing.T) {
	h := newFakeHost(t,
		Outcome{ExitCode: 3, Err: "preflight: apiserver: dial tcp 10.77.0.1:6443: connect: connection refused"},
		Outcome{ExitCode: 0, Changed: true})
	var re *RunError
	if err := h.runner().Run(context.Background()); !errors.As(err, &re) || re.ExitCode != 3 || re.Attempt != 1 {
		t.Fatalf("first run: %v, want a RunError with exit 3, attempt 1", err)
	}
	r := h.result(t)
	if r.State != StateTrying || r.Attempts != 1 || r.BootAttempts != 1 || r.LastExitCode != 3 || !strings.Contains(r.LastError, "connection refused") || r.MaxAttempts != MaxAttempts {
		t.Fatalf("after a failure: %+v", r)
	}
	if err := h.runner().Run(context.Background()); err != nil {
		t.Fatalf("second run: %v", err)
	}
	r = h.result(t)
	if r.State != StateJoined || r.Attempts != 2 || r.LastError != "" || r.LastExitCode != 0 || !r.Changed || r.JoinedAt == nil {
		t.Fatalf("after success: %+v", r)
	}
	if len(h.slept) != 1 || h.slept[0] != Backoff(2) {
		t.Errorf("waits %v, want only Backoff(2) before the second attempt", h.slept)
	}
	st, err := os.Stat(filepath.Join(h.root, ResultPath))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("result file mode: %v %v, want 0600", st.Mode(), err)
	}
}

func TestRunnerGivesUpAfterMaxAttemptsOfABoot(t *testing.T) {
	fail := Outcome{ExitCode: 4, Err: "download kubelet: 503"}
	script := make([]Outcome, MaxAttempts+1)
	for i := range script {
		script[i] = fail
	}
	h := newFakeHost(t, script...)
	for i := 1; i < MaxAttempts; i++ {
		var re *RunError
		if err := h.runner().Run(context.Background()); !errors.As(err, &re) {
			t.Fatalf("attempt %d: %v, want a RunError", i, err)
		}
	}
	var ge *GaveUpError
	if err := h.runner().Run(context.Background()); !errors.As(err, &ge) || ge.Attempts != MaxAttempts {
		t.Fatalf("attempt %d: %v, want GaveUpError", MaxAttempts, err)
	}
	if r := h.result(t); r.State != StateGaveUp || r.BootAttempts != MaxAttempts || r.LastError != "download kubelet: 503" {
		t.Fatalf("after the last attempt: %+v", r)
	}
	// A new boot starts a new series: no wait, attempt 1 again.
	h.boot, h.slept = "boot-2", nil
	var re *RunError
	if err := h.runner().Run(context.Background()); !errors.As(err, &re) || re.Attempt != 1 {
		t.Fatalf("first attempt of the next boot: %v", err)
	}
	if r := h.result(t); r.State != StateTrying || r.BootAttempts != 1 || r.Attempts != MaxAttempts+1 || len(h.slept) != 0 {
		t.Fatalf("next boot: %+v, waits %v", r, h.slept)
	}
}

func TestRunnerRedactsSecretsInTheError(t *testing.T) {
	h := newFakeHost(t, Outcome{ExitCode: 5, Err: "manifest https://b.cos.example/manifest.json?q-signature=abc expired; token abcdef.0123456789abcdef"})
	_ = h.runner().Run(context.Background())
	r := h.result(t)
	if strings.Contains(r.LastError, "q-signature") || strings.Contains(r.LastError, "0123456789abcdef") {
		t.Fatalf("secret in the result: %q", r.LastError)
	}
}

func TestRunnerNamesASilentFailure(t *testing.T) {
	h := newFakeHost(t, Outcome{ExitCode: 1})
	_ = h.runner().Run(context.Background())
	if r := h.result(t); !strings.Contains(r.LastError, "exited 1") {
		t.Fatalf("lastError %q says nothing of the exit", r.LastError)
	}
}

func TestRunnerDoesNotInstallWhenTheResultCannotBeWritten(t *testing.T) {
	h := newFakeHost(t, Outcome{})
	// a file where the state directory should be
	if err := os.MkdirAll(filepath.Join(h.root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.root, "var/lib/add2tkectl"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.runner().Run(context.Background()); err == nil {
		t.Fatal("no error")
	}
	if h.runs != 0 {
		t.Fatal("install ran although its outcome could not be recorded")
	}
}

func TestReadResultRefusesGarbageWithWhatToDo(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, ResultPath)
	_ = os.MkdirAll(filepath.Dir(p), 0o700)
	_ = os.WriteFile(p, []byte("{"), 0o600)
	if _, err := ReadResult(root); err == nil || !strings.Contains(err.Error(), "remove it") {
		t.Fatalf("err = %v", err)
	}
	if r := Report(root); r == nil || r.State != "unknown" {
		t.Fatalf("Report = %+v", r)
	}
	if r := Report(t.TempDir()); r != nil {
		t.Fatalf("Report without a file = %+v, want nil", r)
	}
}
