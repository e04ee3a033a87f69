package userscript

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// maxBackoff caps the pause between attempts.
const maxBackoff = time.Minute

// scriptPATH is the PATH the script gets after paths.ToolsDir (kubectl): the usual system directories,
// not the caller's (which may be a cloud-init or Ansible environment).
const scriptPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Run runs the user script unless it already succeeded on this host. It
// returns a *FailedError when every attempt failed.
func Run(ctx context.Context, d Deps, rec phase.Recorder) error {
	if d.Config == nil {
		return errors.New("userscript: no configuration")
	}
	script := d.Config.NodePool.UserScript
	if script == "" {
		return nil
	}
	d = d.withDefaults()
	sha := SHA256(script)
	log := d.Log.WithField("phase", "userscript").WithField("sha256", sha[:12])
	if ok, err := Satisfied(d); err != nil || ok {
		if ok {
			log.Info("the user script already succeeded on this host")
		}
		return err
	}
	if _, err := WriteScript(d.Root, rec, script); err != nil {
		return err
	}
	if err := rotateLog(d.Root); err != nil {
		return err
	}
	logFile, err := os.OpenFile(d.Root.Path(LogPath), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open the user script's log: %w", err)
	}
	defer logFile.Close()
	// An older log keeps its mode on open; make it owner-only before appending.
	if err := logFile.Chmod(0o600); err != nil {
		return fmt.Errorf("make the user script's log private (0600): %w", err)
	}

	start := time.Now()
	res := Result{SHA256: sha, LogPath: LogPath}
	pause := d.Backoff
	for attempt := 1; attempt <= d.Attempts; attempt++ {
		res.Attempts = attempt
		header := fmt.Sprintf("==== %s attempt %d/%d sha256 %s node %s ====\n",
			time.Now().UTC().Format(time.RFC3339), attempt, d.Attempts, sha, d.NodeName)
		if _, err := io.WriteString(logFile, redact.String(header)); err != nil {
			return fmt.Errorf("write the user script's log: %w", err)
		}
		log.WithFields(logrus.Fields{"attempt": attempt, "log": LogPath}).Info("running the user script")
		from := fileSize(logFile)
		res.ExitCode, res.TimedOut, err = runOnce(ctx, d, logFile)
		if err != nil {
			return err
		}
		logTail(log.WithField("attempt", attempt).WithField("exitCode", res.ExitCode), d.Root.Path(LogPath), from)
		footer := fmt.Sprintf("==== exit code %d ====\n", res.ExitCode)
		if res.TimedOut {
			footer = fmt.Sprintf("==== killed after the timeout of %s ====\n", d.Timeout)
		}
		_, _ = io.WriteString(logFile, footer)
		if res.ExitCode == 0 && !res.TimedOut {
			res.Succeeded = true
			break
		}
		if attempt == d.Attempts || ctx.Err() != nil {
			break
		}
		log.WithField("attempt", attempt).WithField("exitCode", res.ExitCode).WithField("timedOut", res.TimedOut).
			Warnf("the user script failed; trying again in %s", pause)
		if err := wait.Sleep(ctx, pause); err != nil {
			break
		}
		pause = min(2*pause, maxBackoff)
	}
	res.Time = time.Now().UTC()
	res.Duration = time.Since(start).Round(time.Millisecond).String()
	if err := writeResult(d, rec, res); err != nil {
		return err
	}
	if !res.Succeeded {
		if ctx.Err() != nil {
			return fmt.Errorf("the user script was interrupted (see %s): %w", LogPath, ctx.Err())
		}
		return &FailedError{Attempts: res.Attempts, ExitCode: res.ExitCode, TimedOut: res.TimedOut, LogPath: LogPath}
	}
	return markDone(d, rec, sha)
}

// WriteScript writes the script at ScriptPath (0700) in Dir, recording
// both, and runs nothing: Run and render share it. It reports whether the
// file changed.
func WriteScript(root host.Root, rec phase.Recorder, script string) (bool, error) {
	if err := prepareDir(root, rec); err != nil {
		return false, err
	}
	changed, err := root.WriteFile(rec, ScriptPath, []byte(script), 0o700)
	if err != nil {
		return false, fmt.Errorf("write the user script: %w", err)
	}
	return changed, nil
}

// prepareDir creates Dir owner-only: the script and its log may say more
// about the host than other users should read. A Dir that exists already
// is the operator's (staged files, an earlier agent): it is not recorded,
// so uninstall removes only the files install wrote in it, and its
// permissions stay as they are (the script and its logs are owner-only).
func prepareDir(root host.Root, rec phase.Recorder) error {
	full := root.Path(Dir)
	st, err := os.Stat(full)
	switch {
	case err == nil && st.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("%s exists and is not a directory: move it away and run install again", full)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	// Record first: a crash right after mkdir must not leave it unlisted.
	if err := rec.Dir(Dir); err != nil {
		return err
	}
	if err := os.MkdirAll(full, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", full, err)
	}
	if err := os.Chmod(full, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", full, err)
	}
	return nil
}

// runOnce runs the script in its own process group and kills the group at
// the timeout: SIGTERM, then SIGKILL after the grace period. An error is
// returned only when the script could not be started at all.
func runOnce(parent context.Context, d Deps, out *os.File) (exitCode int, timedOut bool, err error) {
	ctx, cancel := context.WithTimeout(parent, d.Timeout)
	defer cancel()
	cmd := exec.Command(d.Shell, d.Root.Path(ScriptPath))
	cmd.Dir = d.Root.Path(Dir)
	cmd.Env = env(d)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return -1, false, fmt.Errorf("start the user script with %s: %w; install bash on this host", d.Shell, err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		select {
		case <-exited:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(d.Grace)
		defer t.Stop()
		select {
		case <-exited:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			_ = cmd.Process.Kill() // should the group be gone, the shell at least
		}
	}()
	werr := cmd.Wait()
	close(exited)
	timedOut = ctx.Err() != nil && parent.Err() == nil
	if ctx.Err() != nil {
		// Whatever of the group outlived the script's shell goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return -1, timedOut, fmt.Errorf("wait for the user script: %w", werr)
	}
	return cmd.ProcessState.ExitCode(), timedOut, nil
}

// KubeCacheDir is kubectl's cache (--cache-dir) for the user script.
const KubeCacheDir = paths.CacheDir + "/kube"

// env is the script's whole environment: nothing is inherited, so that no
// ADD2TKE_* variable (which may carry the bootstrap token) reaches it.
func env(d Deps) []string {
	home := os.Getenv("HOME")
	if home == "" || strings.ContainsAny(home, "\n=") {
		home = "/root"
	}
	return []string{
		"CLUSTER_ID=" + d.Config.Cluster.ID,
		"NODE_POOL_ID=" + d.Config.NodePool.ID,
		"NODE_NAME=" + d.NodeName,
		"KUBECONFIG=" + d.Root.Path(paths.KubeletKubeconfig),
		// kubectl's discovery cache goes to add2tkectl's cache, which
		// uninstall removes, not to $HOME/.kube, which it must not touch.
		"KUBECACHEDIR=" + d.Root.Path(KubeCacheDir),
		"PATH=" + d.Root.Path(paths.ToolsDir) + ":" + scriptPATH,
		"HOME=" + home,
		"LANG=C.UTF-8",
	}
}

// markDone writes the success marker of sha and drops those of earlier
// scripts, so that going back to an older script runs it again.
func markDone(d Deps, rec phase.Recorder, sha string) error {
	stamp := []byte(time.Now().UTC().Format(time.RFC3339) + " " + sha + "\n")
	if _, err := d.Root.WriteFile(rec, MarkerPath(sha), stamp, 0o600); err != nil {
		return fmt.Errorf("write the user script's success marker: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(d.Root.Path(Dir), markerPre+"*"))
	if err != nil {
		return err
	}
	for _, p := range old {
		if filepath.Base(p) != markerPre+sha {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove an old success marker: %w", err)
			}
		}
	}
	return nil
}

func writeResult(d Deps, rec phase.Recorder, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	b = []byte(redact.String(string(b)) + "\n")
	if _, err := d.Root.WriteFile(rec, ResultPath, b, 0o600); err != nil {
		return fmt.Errorf("write the user script's result: %w", err)
	}
	return nil
}
