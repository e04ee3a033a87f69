package binary

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/add2tkectl/add2tkectl/pkg/host"
)

// Sweep is a family of files a component renders a varying number of, one
// per entry of a setting (a hosts.toml per registry of the site): a file
// matching Glob that Mine says the component wrote, and that the layout
// no longer has, is left from a former run. Write removes it (and its
// directory when that is left empty); Written is false while it is there.
// A file Mine does not claim is the operator's and is never touched.
type Sweep struct {
	// Glob is a host path pattern (path.Match), e.g.
	// /etc/containerd/certs.d/*/hosts.toml.
	Glob string
	// Mine reports whether a file's content is one the component wrote;
	// its files carry a header that says so.
	Mine func(data []byte) bool
}

// stale lists, sorted, the host paths the sweeps find that files does not
// hold.
func stale(root host.Root, sweeps []Sweep, files map[string]host.File) ([]string, error) {
	var out []string
	for _, s := range sweeps {
		matches, err := filepath.Glob(root.Path(s.Glob))
		if err != nil {
			return nil, fmt.Errorf("sweep %s: %w", s.Glob, err)
		}
		for _, full := range matches {
			rel, err := filepath.Rel(root.Path("/"), full)
			if err != nil {
				return nil, err
			}
			p := path.Clean("/" + filepath.ToSlash(rel))
			if _, ok := files[p]; ok {
				continue
			}
			st, err := os.Lstat(full)
			if err != nil || !st.Mode().IsRegular() {
				continue // gone meanwhile, or not a file: not ours
			}
			b, err := os.ReadFile(full)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", full, err)
			}
			if s.Mine(b) {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// removeStale removes the stale files and then each one's directory when
// nothing else is left in it.
func removeStale(root host.Root, paths []string) ([]string, error) {
	var removed []string
	for _, p := range paths {
		full := root.Path(p)
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("remove %s (no longer in the settings): %w", full, err)
		}
		removed = append(removed, p)
		_ = os.Remove(filepath.Dir(full)) // only when empty: an operator's file keeps it
	}
	return removed, nil
}
