package install

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Journal facts about the runtime's data dir, recorded before the runtime
// first uses it. Uninstall works from these, never from the configuration
// of the day (which a new bundle, the environment or --set may change):
//
//   - KeyDataDir is the directory install gave the runtime.
//   - KeyDataDirMode is its permissions before, when it existed already (a
//     data disk's mount point): the runtime changes them (containerd makes
//     its root 0700), and uninstall, which leaves such a directory in
//     place, sets them back.
//   - KeyDataDirEntries lists (JSON) the names it held before: the
//     operator's, which uninstall keeps even when a runtime could have made
//     a name like them (docker's "tmp", "volumes", "image"...).
const (
	KeyDataDir        = "runtime.data-dir"
	KeyDataDirMode    = "runtime.data-dir.mode"
	KeyDataDirEntries = "runtime.data-dir.entries"
)

// RecordDataDir records the facts above for dataDir. They are recorded
// when the data dir is first given to the runtime, and again only when the
// configuration moves it elsewhere: a later run would see the runtime's
// permissions and entries, not the host's.
func RecordDataDir(root host.Root, dataDir string, rec phase.Recorder) error {
	dataDir = path.Clean(dataDir)
	j, err := phase.LoadJournal(root.Dir)
	if err != nil {
		return err
	}
	v := j.Values()
	if v[KeyDataDir] == dataDir {
		return nil
	}
	mode, entries := "", "[]"
	full := root.Path(dataDir)
	st, err := os.Stat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// install creates it, records it as its own, and uninstall removes it
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("the runtime's data dir %s is not a directory: set nodePool.runtime.dataDir to a directory, or move %s away", dataDir, full)
	default:
		mode = fmt.Sprintf("%04o", st.Mode().Perm())
		des, err := os.ReadDir(full)
		if err != nil {
			return fmt.Errorf("read the runtime's data dir %s: %w", full, err)
		}
		names := make([]string, 0, len(des))
		for _, de := range des {
			names = append(names, de.Name())
		}
		sort.Strings(names)
		b, err := json.Marshal(names)
		if err != nil {
			return err
		}
		entries = string(b)
	}
	// The entries and mode first, the dir last: a run killed in between
	// records them again, before the runtime starts.
	if err := rec.Set(KeyDataDirEntries, entries); err != nil {
		return err
	}
	if err := rec.Set(KeyDataDirMode, mode); err != nil {
		return err
	}
	return rec.Set(KeyDataDir, dataDir)
}
