// Package binary writes a component's layout (Layout: its directories,
// rendered files, units and version fact) and installs the files taken from
// verified artifacts — a binary artifact itself, or members of a tar.gz
// artifact — under the host root: streamed, atomic, journaled. A stamp remembers which artifact each
// component installed from and what it wrote, so a re-run tells "nothing to
// do" without extracting or re-reading archives.
package binary

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// StampPath is the host path of component's stamp.
func StampPath(component string) string { return path.Join(paths.StampDir, component+".json") }

// Sum identifies a file's content. Path, size and modification time let a
// later check trust the recorded SHA256 without reading the file again (as
// git's index does); any difference in them means hashing it again.
type Sum struct {
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	MTimeNs int64  `json:"mtimeNs"`
}

// Stamp is what a component installed and from what.
type Stamp struct {
	// Sources maps an artifact name to the artifact file it installed from.
	Sources map[string]Sum `json:"sources"`
	// Files maps a host path to what was written there.
	Files map[string]Sum `json:"files"`
	// Facts holds component-specific results, e.g. image digests.
	Facts map[string]string `json:"facts,omitempty"`
}

// SumFile hashes the file at p (a real path, not root-relative).
func SumFile(p string) (Sum, error) {
	f, err := os.Open(p)
	if err != nil {
		return Sum{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Sum{}, fmt.Errorf("read %s: %w", p, err)
	}
	st, err := f.Stat()
	if err != nil {
		return Sum{}, err
	}
	return Sum{Path: p, SHA256: hex.EncodeToString(h.Sum(nil)), Size: st.Size(), MTimeNs: st.ModTime().UnixNano()}, nil
}

// Matches reports whether the file at p still has the recorded content,
// hashing it only when path, size or mtime differ from the record.
func (s Sum) Matches(p string) (bool, error) {
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if s.Path == p && st.Size() == s.Size && st.ModTime().UnixNano() == s.MTimeNs {
		return true, nil
	}
	if st.Size() != s.Size {
		return false, nil
	}
	got, err := SumFile(p)
	if err != nil {
		return false, err
	}
	return got.SHA256 == s.SHA256, nil
}

// LoadStamp reads component's stamp; a missing stamp is an empty one.
func LoadStamp(root host.Root, component string) (Stamp, error) {
	s := Stamp{Sources: map[string]Sum{}, Files: map[string]Sum{}, Facts: map[string]string{}}
	b, err := os.ReadFile(root.Path(StampPath(component)))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		// A damaged stamp only costs a reinstall.
		return Stamp{Sources: map[string]Sum{}, Files: map[string]Sum{}, Facts: map[string]string{}}, nil
	}
	if s.Sources == nil {
		s.Sources = map[string]Sum{}
	}
	if s.Files == nil {
		s.Files = map[string]Sum{}
	}
	if s.Facts == nil {
		s.Facts = map[string]string{}
	}
	return s, nil
}

// SaveStamp writes component's stamp atomically and records it.
func SaveStamp(root host.Root, rec phase.Recorder, component string, s Stamp) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = root.WriteFile(rec, StampPath(component), append(b, '\n'), 0o644)
	return err
}
