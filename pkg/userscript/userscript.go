// Package userscript runs the node pool's user script ("custom data") once
// the node is Ready: written under /usr/local/qcloud/tke/userscript, run
// with bash under a timeout with retries, its output appended to a log
// there, and a success marker keyed by the script's sha256 so that a re-run
// skips a script that succeeded and runs a changed one.
//
// Files in Dir: userscript.sh (0700), userscript.log (0600, appended, one
// header per attempt, the script's whole output; moved to userscript.log.1
// when a run starts with it over MaxLogBytes), last-run.json (0600, for
// status), .done-<sha256>. The last LogTailBytes of each attempt's output
// also go to add2tkectl's own log. It records the files it writes whole in
// the journal, and Dir only when it created it; it sets no keys.
package userscript

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/logging"
)

// Host paths of the user script's files.
const (
	Dir        = "/usr/local/qcloud/tke/userscript"
	ScriptPath = Dir + "/userscript.sh"
	LogPath    = Dir + "/userscript.log"
	OldLogPath = LogPath + ".1" // the log before the last rotation
	ResultPath = Dir + "/last-run.json"
	markerPre  = ".done-"
)

// Defaults of Deps.
const (
	DefaultTimeout  = 10 * time.Minute
	DefaultAttempts = 3
	DefaultBackoff  = 5 * time.Second
	DefaultGrace    = 5 * time.Second
)

// Deps is what running the user script needs.
type Deps struct {
	Root     host.Root
	Log      logrus.FieldLogger
	Config   *config.NodePoolJoin
	NodeName string

	// Timeout bounds one attempt; the whole process group is killed then.
	Timeout time.Duration
	// Attempts is how many times a failing script runs in all.
	Attempts int
	// Backoff is the pause after the first failure; it doubles after each.
	Backoff time.Duration
	// Grace is how long the script has between SIGTERM and SIGKILL.
	Grace time.Duration
	// Shell runs the script; "" means bash.
	Shell string
}

func (d Deps) withDefaults() Deps {
	if d.Timeout <= 0 {
		d.Timeout = DefaultTimeout
	}
	if d.Attempts <= 0 {
		d.Attempts = DefaultAttempts
	}
	if d.Backoff <= 0 {
		d.Backoff = DefaultBackoff
	}
	if d.Grace <= 0 {
		d.Grace = DefaultGrace
	}
	if d.Shell == "" {
		d.Shell = "bash"
		if _, err := os.Stat("/bin/bash"); err == nil {
			d.Shell = "/bin/bash"
		}
	}
	if d.Log == nil {
		d.Log = logging.Discard()
	}
	return d
}

// SHA256 is the hex digest that keys a script's success marker.
func SHA256(script string) string {
	sum := sha256.Sum256([]byte(script))
	return hex.EncodeToString(sum[:])
}

// MarkerPath is the host path of the success marker of a script digest.
func MarkerPath(sha string) string { return path.Join(Dir, markerPre+sha) }

// Satisfied reports whether there is nothing to run: no user script, or
// the current one already succeeded on this host.
func Satisfied(d Deps) (bool, error) {
	if d.Config == nil {
		return false, errors.New("userscript: no configuration")
	}
	script := d.Config.NodePool.UserScript
	if script == "" {
		return true, nil
	}
	_, err := os.Stat(d.Root.Path(MarkerPath(SHA256(script))))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("check the user script's success marker: %w", err)
}

// Result is the outcome of the last run, kept in last-run.json for status.
type Result struct {
	Time      time.Time `json:"time"`
	SHA256    string    `json:"sha256"`
	Attempts  int       `json:"attempts"`
	ExitCode  int       `json:"exitCode"` // -1 when killed by a signal
	TimedOut  bool      `json:"timedOut,omitempty"`
	Succeeded bool      `json:"succeeded"`
	Duration  string    `json:"duration"`
	LogPath   string    `json:"logPath"`
}

// LastRun reads last-run.json; ok is false when the script never ran.
func LastRun(root host.Root) (r Result, ok bool, err error) {
	b, err := os.ReadFile(root.Path(ResultPath))
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("read the user script's last result: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("parse %s: %w", root.Path(ResultPath), err)
	}
	return r, true, nil
}

// FailedError is a user script that failed every attempt. The CLI maps it
// to exit 1; the log says why.
type FailedError struct {
	Attempts int
	ExitCode int
	TimedOut bool
	LogPath  string
}

func (e *FailedError) Error() string {
	how := fmt.Sprintf("exit code %d", e.ExitCode)
	if e.TimedOut {
		how = "killed at its timeout"
	}
	return fmt.Sprintf("the user script failed %d time(s), last %s: see %s; fix nodePool.userScript (or what it depends on) and run install again",
		e.Attempts, how, e.LogPath)
}
