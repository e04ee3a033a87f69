package binary

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// EnsureDir creates the host directory p with mode when it is missing and
// records it; a directory that already existed is not ours and is not
// recorded (uninstall must not remove, say, a data disk's mount point).
func EnsureDir(root host.Root, rec phase.Recorder, p string, mode fs.FileMode) error {
	full := root.Path(p)
	st, err := os.Stat(full)
	if err == nil {
		if !st.IsDir() {
			return fmt.Errorf("%s exists and is not a directory: move it away", full)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	// Record first: a crash right after mkdir must not leave it unlisted.
	if err := rec.Dir(p); err != nil {
		return err
	}
	if err := os.MkdirAll(full, mode); err != nil {
		return fmt.Errorf("create %s: %w", full, err)
	}
	return nil
}

// SameFile reports whether the real file p holds want with mode.
func SameFile(p string, want []byte, mode fs.FileMode) (bool, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.Mode().Perm() != mode.Perm() || st.Size() != int64(len(want)) {
		return false, nil
	}
	got, err := os.ReadFile(p)
	if err != nil {
		return false, err
	}
	return bytes.Equal(got, want), nil
}
