package firstboot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/logging"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// bootIDPath names the current boot (a fresh random UUID at every boot).
const bootIDPath = "/proc/sys/kernel/random/boot_id"

// Outcome is what one install run reported.
type Outcome struct {
	ExitCode int
	// Err is the run's error message (its last "error: " line).
	Err string
	// Changed is install's "changed" on success.
	Changed bool
}

// Runner is one start of the first-boot unit: it waits its backoff, runs
// install once, and records the outcome in the result file.
type Runner struct {
	Root string
	Log  logrus.FieldLogger
	// Install runs install once.
	Install func(ctx context.Context) Outcome
	// Sleep waits d or until ctx ends; Now is the clock; BootID names this
	// boot. nil means the real ones.
	Sleep  func(ctx context.Context, d time.Duration) error
	Now    func() time.Time
	BootID func() (string, error)
}

// GaveUpError is the runner's answer once MaxAttempts runs of a boot failed.
type GaveUpError struct {
	Attempts int
	Last     string
}

func (e *GaveUpError) Error() string {
	return fmt.Sprintf("first boot gave up after %d failed installs (last: %s); fix the cause, then `systemctl restart %s` for one more attempt, or reboot for a new series", e.Attempts, e.Last, UnitName)
}

// RunError is a failed attempt that systemd will retry.
type RunError struct {
	Attempt  int
	ExitCode int
	Msg      string
}

func (e *RunError) Error() string {
	return fmt.Sprintf("install attempt %d of %d failed (exit %d): %s; %s restarts it", e.Attempt, MaxAttempts, e.ExitCode, e.Msg, UnitName)
}

// Run makes one attempt. It returns nil once install succeeded, a
// *RunError for a failure systemd retries, a *GaveUpError after the last
// attempt of the boot, and any other error when the result file cannot be
// written (install did not run then: a result must never lie).
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	prev, err := ReadResult(r.Root)
	if err != nil {
		r.Log.WithError(err).Warn("the first-boot result does not read; starting a new one")
		prev = nil
	}
	boot, err := r.BootID()
	if err != nil {
		return fmt.Errorf("first boot: read this boot's id: %w", err)
	}
	res := Result{MaxAttempts: MaxAttempts}
	if prev != nil {
		res = *prev
		res.MaxAttempts = MaxAttempts
	}
	if res.BootID != boot {
		res.BootID, res.BootAttempts = boot, 0
	}
	n := res.BootAttempts + 1
	if wait := Backoff(n); wait > 0 {
		r.Log.WithFields(logrus.Fields{"attempt": n, "wait": wait.String()}).Infof("waiting %s before install attempt %d of %d (last error: %s)", wait, n, MaxAttempts, orNone(res.LastError))
		if err := r.Sleep(ctx, wait); err != nil {
			return err
		}
	}
	now := r.Now()
	res.State, res.Attempts, res.BootAttempts = StateTrying, res.Attempts+1, n
	res.StartedAt, res.UpdatedAt = &now, now
	if err := WriteResult(r.Root, &res); err != nil {
		return err
	}
	r.Log.WithField("attempt", n).Infof("install attempt %d of %d (%d in all)", n, MaxAttempts, res.Attempts)

	out := r.Install(ctx)
	res.UpdatedAt = r.Now()
	if out.ExitCode == 0 {
		joined := res.UpdatedAt
		res.State, res.LastError, res.LastExitCode, res.Changed, res.JoinedAt = StateJoined, "", 0, out.Changed, &joined
		if err := WriteResult(r.Root, &res); err != nil {
			return err
		}
		r.Log.WithFields(logrus.Fields{"attempt": n, "changed": out.Changed}).Info("joined")
		return nil
	}
	msg := redact.String(strings.TrimSpace(out.Err))
	if msg == "" {
		msg = fmt.Sprintf("install exited %d without an error message; see /var/log/add2tkectl/add2tkectl.log", out.ExitCode)
	}
	res.LastError, res.LastExitCode, res.Changed = msg, out.ExitCode, false
	var runErr error = &RunError{Attempt: n, ExitCode: out.ExitCode, Msg: msg}
	res.State = StateTrying
	if n >= MaxAttempts {
		res.State = StateGaveUp
		runErr = &GaveUpError{Attempts: n, Last: msg}
	}
	if err := WriteResult(r.Root, &res); err != nil {
		return err
	}
	return runErr
}

func (r *Runner) defaults() {
	if r.Log == nil {
		r.Log = logging.Discard()
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Sleep == nil {
		r.Sleep = wait.Sleep
	}
	if r.BootID == nil {
		r.BootID = func() (string, error) {
			b, err := os.ReadFile(filepath.Join("/", bootIDPath))
			return strings.TrimSpace(string(b)), err
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
