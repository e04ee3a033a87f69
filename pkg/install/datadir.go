package install

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// KeyDataDirMode is the journal fact with the permissions the runtime's data
// dir had before install first used it, when it existed already (a data
// disk's mount point): the runtime changes them (containerd makes its root
// 0700), and uninstall, which leaves such a directory in place, sets them back.
const KeyDataDirMode = "runtime.data-dir.mode"

// recordDataDirMode records KeyDataDirMode once: a later run would see the
// runtime's permissions, not the host's.
func recordDataDirMode(root host.Root, dataDir string, rec phase.Recorder) error {
	j, err := phase.LoadJournal(root.Dir)
	if err != nil {
		return err
	}
	if _, ok := j.Values()[KeyDataDirMode]; ok {
		return nil
	}
	st, err := os.Stat(root.Path(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // install creates it, and uninstall removes it
	}
	if err != nil {
		return err
	}
	return rec.Set(KeyDataDirMode, fmt.Sprintf("%04o", st.Mode().Perm()))
}
