// Package atomicfile replaces files so that a reader, a crash or another
// user of the host only ever sees the old content or the new one, each with
// its declared mode: the temp file is created beside the target (never in
// $TMPDIR, so the rename is atomic and no secret touches /tmp), exclusively
// (a planted file or symlink is never followed), with the final mode before
// its first byte (whatever the umask or the old file's mode), and file and
// directory are fsynced so that the rename survives a power loss.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Write replaces path with data at mode.
func Write(path string, data []byte, mode fs.FileMode) error {
	p, err := New(path, mode)
	if err != nil {
		return err
	}
	defer p.Cleanup()
	if _, err := p.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return p.Commit()
}

// Pending is a replacement being written; Commit puts it in place.
type Pending struct {
	*os.File
	path string
	done bool
}

// New starts a replacement of path at mode: a new, empty file beside it
// that already has mode. Write to it, then Commit; Cleanup (deferred)
// removes it if Commit was not reached.
func New(path string, mode fs.FileMode) (*Pending, error) {
	f, err := createBeside(path, mode.Perm())
	if err != nil {
		return nil, err
	}
	// The umask may have narrowed the mode (never widened it): make it exact
	// while the file is still empty.
	if err := f.Chmod(mode.Perm()); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("set the mode of %s: %w", f.Name(), err)
	}
	return &Pending{File: f, path: path}, nil
}

// createBeside creates a temp file in path's directory, named after it.
// O_EXCL fails on anything already at the name, a symlink included, so a
// name guessed by someone else only costs another try.
func createBeside(path string, perm fs.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	for try := 0; ; try++ {
		suffix, err := tempSuffix()
		if err != nil {
			return nil, err
		}
		tmp := filepath.Join(dir, "."+base+".tmp-"+suffix)
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrExist) || try == 9 {
			return nil, fmt.Errorf("create a temp file beside %s: %w", path, err)
		}
	}
}

// tempSuffix makes temp names hard to guess; tests replace it to plant a
// file at the name first.
var tempSuffix = func() (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("name a temp file: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Commit fsyncs the new content, renames it over the target and fsyncs the
// directory, so that after Commit returns the target is the new file even
// after a power loss.
func (p *Pending) Commit() error {
	if p.done {
		return fmt.Errorf("write %s: already committed", p.path)
	}
	p.done = true
	tmp := p.Name()
	serr := p.Sync()
	if err := errors.Join(serr, p.Close()); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	if err := os.Rename(tmp, p.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	if err := syncDir(filepath.Dir(p.path)); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// Cleanup removes an uncommitted replacement; after Commit it does nothing.
func (p *Pending) Cleanup() {
	if p.done {
		return
	}
	p.done = true
	_ = p.Close()
	_ = os.Remove(p.Name())
}

// syncDir is SyncDir; tests replace it to see that Commit calls it.
var syncDir = SyncDir

// SyncDir fsyncs a directory, making the renames and creations in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open the directory %s to sync it: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync the directory %s: %w", dir, err)
	}
	return nil
}

// MkdirAll is os.MkdirAll that also fsyncs the parent of every directory it
// creates, so that a file written into them is reachable after a power loss.
func MkdirAll(dir string, perm fs.FileMode) error {
	dir = filepath.Clean(dir)
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile by someone else
		}
		return err
	}
	return syncDir(filepath.Dir(dir))
}
