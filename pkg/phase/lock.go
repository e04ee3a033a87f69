package phase

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// lockRetry is how often a waiting run tries the lock again.
const lockRetry = 100 * time.Millisecond

// LockedError says that another run held the lock for as long as we waited.
type LockedError struct {
	Path   string
	Holder string // "pid 1234: add2tkectl install (since ...)", or "" if unknown
	Waited time.Duration
}

func (e *LockedError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "a process that did not say who it is"
	}
	return fmt.Sprintf("another add2tkectl run holds %s: %s; waited %s: let it finish (or stop it) and run again, or wait longer with --timeout", e.Path, holder, e.Waited)
}

// Lock is a held run lock.
type Lock struct {
	f    *flock.Flock
	path string
}

// AcquireLock takes the run lock under root, waiting up to timeout while
// another process holds it. owner describes this run to whoever waits for
// it (the command line; secrets are redacted here anyway, as the lock file
// outlives a killed run); the process ID is added here.
func AcquireLock(ctx context.Context, root, owner string, timeout time.Duration, log logrus.FieldLogger) (*Lock, error) {
	path := filepath.Join(rootDir(root), paths.LockPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create the directory of the lock %s: %w", path, err)
	}
	f := flock.New(path, flock.SetPermissions(0o600))
	ok, err := f.TryLock()
	if err != nil {
		return nil, fmt.Errorf("take the lock %s: %w", path, err)
	}
	if !ok {
		if log != nil {
			log.WithField("lock", path).WithField("holder", readHolder(path)).
				Infof("waiting up to %s for another add2tkectl run to finish", timeout)
		}
		wctx, cancel := context.WithTimeout(ctx, timeout)
		ok, err = f.TryLockContext(wctx, lockRetry)
		cancel()
		switch {
		case ok:
		case ctx.Err() != nil:
			return nil, fmt.Errorf("stopped while waiting for the lock %s: %w", path, ctx.Err())
		case err == nil || errors.Is(err, context.DeadlineExceeded):
			return nil, &LockedError{Path: path, Holder: readHolder(path), Waited: timeout}
		default:
			return nil, fmt.Errorf("take the lock %s: %w", path, err)
		}
	}
	l := &Lock{f: f, path: path}
	holder := fmt.Sprintf("pid %d: %s (since %s)\n", os.Getpid(), redact.String(owner), time.Now().UTC().Format(time.RFC3339))
	if err := l.writeHolder([]byte(holder)); err != nil {
		_ = f.Unlock()
		return nil, err
	}
	return l, nil
}

// Release lets the next run in. A killed run needs no release: the kernel
// drops the flock with the process.
func (l *Lock) Release() error {
	// Clear the holder first, so nobody is named who no longer holds it.
	_ = l.writeHolder(nil)
	if err := l.f.Unlock(); err != nil {
		return fmt.Errorf("release the lock %s: %w", l.path, err)
	}
	return nil
}

// writeHolder replaces the lock file's content; flock guards the file, not
// its bytes, so the content is free to say who holds it.
func (l *Lock) writeHolder(b []byte) error {
	fh, err := os.OpenFile(l.path, os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write the holder into the lock %s: %w", l.path, err)
	}
	// A lock file made by something else keeps its mode on open: make it
	// owner-only before it says anything.
	merr := fh.Chmod(0o600)
	var werr error
	if merr == nil {
		_, werr = fh.Write(b)
	}
	cerr := fh.Close()
	if err := errors.Join(merr, werr, cerr); err != nil {
		return fmt.Errorf("write the holder into the lock %s: %w", l.path, err)
	}
	return nil
}

func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(bytes.ToValidUTF8(b, nil)))
}
