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
	if old, err := os.ReadFile(full); err == nil && bytes.Equal(old, data) {
		if st, err := os.Stat(full); err == nil && st.Mode().Perm() == mode.Perm() {
			return false, rec.File(p, hexSum)
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("read %s: %w", full, err)
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
// mode) with WriteFile, in path order, and returns the paths it changed.
func (r Root) WriteAll(rec phase.Recorder, files map[string]File) ([]string, error) {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var changed []string
	for _, p := range paths {
		did, err := r.WriteFile(rec, p, files[p].Data, files[p].Mode)
		if err != nil {
			return changed, err
		}
		if did {
			changed = append(changed, p)
		}
	}
	return changed, nil
}
