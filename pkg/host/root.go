// Package host acts on the host's filesystem and kernel settings, always
// under a root directory so that tests and image builders can target one.
package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Root is the directory every host path is resolved under ("/" in production).
type Root struct{ Dir string }

// Path maps an absolute host path to its place under the root.
func (r Root) Path(p string) string {
	if r.Dir == "" || r.Dir == "/" {
		return filepath.Clean("/" + p)
	}
	return filepath.Join(r.Dir, filepath.Clean("/"+p))
}

// WriteFile writes data to the host path p atomically with mode, creating
// parent directories, and records it: atomicfile.Write, so the content is
// never visible with a wider mode than mode (even over an older, wider
// file) and survives a power loss. It reports whether the file changed; an
// identical file with the same mode is left untouched.
func (r Root) WriteFile(rec phase.Recorder, p string, data []byte, mode fs.FileMode) (changed bool, err error) {
	full := r.Path(p)
	sum := sha256.Sum256(data)
	hexSum := hex.EncodeToString(sum[:])
	if same, _, err := r.same(p, data, mode); err != nil {
		return false, err
	} else if same {
		return false, rec.File(p, hexSum)
	}
	if err := atomicfile.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return false, fmt.Errorf("create directory for %s: %w", full, err)
	}
	// Record first: a crash after the rename must not leave an unlisted file.
	if err := rec.File(p, hexSum); err != nil {
		return false, err
	}
	if err := atomicfile.Write(full, data, mode); err != nil {
		return false, err
	}
	return true, nil
}

// FileSHA256 returns the hex sha256 of the host file p, or "" if it is missing.
func (r Root) FileSHA256(p string) (string, error) {
	b, err := os.ReadFile(r.Path(p))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// WriteAll writes every file of a rendered set (host path → content and
// mode) as WriteFile does, in path order, and returns the paths it changed.
// Every file is recorded in one journal write before the first is written
// (a write fsyncs the journal and its directory: one, not one per file).
func (r Root) WriteAll(rec phase.Recorder, files map[string]File) ([]string, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	// A file that replaces another is recorded alone, just before it is
	// written: listed earlier, an install stopped in between would have
	// uninstall remove a file it never wrote.
	type write struct {
		path, sum string
		replaces  bool
	}
	var records []phase.FileRecord
	var todo []write
	for _, p := range paths {
		f := files[p]
		sum := sha256.Sum256(f.Data)
		w := write{path: p, sum: hex.EncodeToString(sum[:])}
		same, exists, err := r.same(p, f.Data, f.Mode)
		if err != nil {
			return nil, err
		}
		if !same {
			w.replaces = exists
			todo = append(todo, w)
		}
		if !w.replaces {
			records = append(records, phase.FileRecord{Path: p, SHA256: w.sum})
		}
	}
	// Record first: a crash after a rename must not leave an unlisted file.
	if err := phase.RecordFiles(rec, records); err != nil {
		return nil, err
	}
	var changed []string
	for _, w := range todo {
		full := r.Path(w.path)
		if err := atomicfile.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return changed, fmt.Errorf("create directory for %s: %w", full, err)
		}
		if w.replaces {
			if err := rec.File(w.path, w.sum); err != nil {
				return changed, err
			}
		}
		if err := atomicfile.Write(full, files[w.path].Data, files[w.path].Mode); err != nil {
			return changed, err
		}
		changed = append(changed, w.path)
	}
	return changed, nil
}

// same reports whether the host file p has data and mode already, and
// whether anything is at p.
func (r Root) same(p string, data []byte, mode fs.FileMode) (same, exists bool, err error) {
	full := r.Path(p)
	old, err := os.ReadFile(full)
	if errors.Is(err, fs.ErrNotExist) {
		_, lerr := os.Lstat(full) // a dangling symlink is something
		return false, lerr == nil, nil
	} else if err != nil {
		return false, true, fmt.Errorf("read %s: %w", full, err)
	}
	if !bytes.Equal(old, data) {
		return false, true, nil
	}
	st, err := os.Stat(full)
	return err == nil && st.Mode().Perm() == mode.Perm(), true, nil
}
