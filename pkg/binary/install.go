package binary

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Item is one file (or a directory's worth of files) a component installs.
type Item struct {
	// Artifact is the name in the artifacts map (kubelet, containerd, ...).
	Artifact string
	// From is empty when the artifact itself is the file (a binary).
	// Otherwise the artifact is a tar.gz and From names a member: matched
	// exactly (after "./"), or else by a unique "/From" suffix, so
	// "bin/containerd" finds "containerd-1.7.22/bin/containerd" too. From
	// "*" takes every regular file at the archive's top level.
	From string
	// Dst is the host path; a directory when From is "*".
	Dst string
	// Mode of the installed file(s).
	Mode fs.FileMode
}

// Plan is every file a component installs from artifacts.
type Plan struct {
	Component string
	Items     []Item
}

// MissingArtifactError says an artifact the component needs was not given.
type MissingArtifactError struct{ Component, Artifact string }

func (e *MissingArtifactError) Error() string {
	return fmt.Sprintf("%s needs the %q artifact, which the manifest did not provide: add it to the manifest (or --artifacts-dir)", e.Component, e.Artifact)
}

func (p Plan) artifacts() []string {
	seen := map[string]bool{}
	var names []string
	for _, it := range p.Items {
		if !seen[it.Artifact] {
			seen[it.Artifact] = true
			names = append(names, it.Artifact)
		}
	}
	sort.Strings(names)
	return names
}

// Satisfied reports whether every artifact is the one last installed from
// and every file written then is still in place, unchanged.
func (p Plan) Satisfied(root host.Root, artifacts map[string]string) (bool, error) {
	st, err := LoadStamp(root, p.Component)
	if err != nil {
		return false, err
	}
	return p.satisfied(root, artifacts, st)
}

// signature identifies the plan's items, so a plan that gained or changed
// an item is not taken as satisfied by an older stamp.
func (p Plan) signature() string {
	var parts []string
	for _, it := range p.Items {
		parts = append(parts, fmt.Sprintf("%s|%s|%s|%o", it.Artifact, it.From, it.Dst, it.Mode.Perm()))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

const planFact = "plan"

func (p Plan) satisfied(root host.Root, artifacts map[string]string, st Stamp) (bool, error) {
	if st.Facts[planFact] != p.signature() {
		return false, nil
	}
	for _, name := range p.artifacts() {
		src, ok := artifacts[name]
		if !ok {
			return false, &MissingArtifactError{Component: p.Component, Artifact: name}
		}
		rec, ok := st.Sources[name]
		if !ok {
			return false, nil
		}
		if ok, err := rec.Matches(src); err != nil || !ok {
			return false, err
		}
	}
	if len(st.Files) == 0 {
		return false, nil
	}
	for dst, sum := range st.Files {
		if ok, err := sum.Matches(root.Path(dst)); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// Install puts every item in place, copying only files whose content
// differs, records each file in the journal and updates the stamp. It
// returns the host paths it rewrote.
func (p Plan) Install(root host.Root, rec phase.Recorder, artifacts map[string]string) (changed []string, err error) {
	for _, name := range p.artifacts() {
		if _, ok := artifacts[name]; !ok {
			return nil, &MissingArtifactError{Component: p.Component, Artifact: name}
		}
	}
	st, err := LoadStamp(root, p.Component)
	if err != nil {
		return nil, err
	}
	if ok, err := p.satisfied(root, artifacts, st); err != nil || ok {
		return nil, err
	}
	next := Stamp{Sources: map[string]Sum{}, Files: map[string]Sum{}, Facts: st.Facts}
	next.Facts[planFact] = p.signature()
	for _, name := range p.artifacts() {
		src := artifacts[name]
		sum, err := SumFile(src)
		if err != nil {
			return changed, fmt.Errorf("read artifact %s: %w", name, err)
		}
		next.Sources[name] = sum
		var items []Item
		archive := false
		for _, it := range p.Items {
			if it.Artifact == name {
				items = append(items, it)
				archive = archive || it.From != ""
			}
		}
		dir := ""
		if archive {
			dir = extractDir(src)
			defer os.RemoveAll(dir)
			// The one safe extractor: it refuses escapes, links out, device
			// nodes and archive bombs, and drops setuid/setgid bits.
			if err := artifact.ExtractTarGz(src, dir); err != nil {
				return changed, fmt.Errorf("%s: artifact %s: %w", p.Component, name, err)
			}
		}
		for _, it := range items {
			files, err := it.sources(src, dir)
			if err != nil {
				return changed, fmt.Errorf("%s: artifact %s: %w", p.Component, name, err)
			}
			for _, f := range files {
				did, sum, err := CopyFile(root, rec, f.dst, f.src, it.Mode)
				if err != nil {
					return changed, err
				}
				if did {
					changed = append(changed, f.dst)
				}
				next.Files[f.dst] = sum
			}
		}
	}
	return changed, SaveStamp(root, rec, p.Component, next)
}

type copyPair struct{ src, dst string }

func (it Item) sources(artifact, dir string) ([]copyPair, error) {
	if it.From == "" {
		return []copyPair{{artifact, it.Dst}}, nil
	}
	var all []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			all = append(all, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(all)
	if it.From == "*" {
		var out []copyPair
		for _, rel := range all {
			if !strings.Contains(rel, "/") {
				out = append(out, copyPair{filepath.Join(dir, rel), path.Join(it.Dst, rel)})
			}
		}
		if len(out) == 0 {
			return nil, errors.New("the archive has no files at its top level")
		}
		return out, nil
	}
	want := strings.TrimPrefix(it.From, "./")
	var hits []string
	for _, rel := range all {
		if rel == want {
			return []copyPair{{filepath.Join(dir, rel), it.Dst}}, nil
		}
		if strings.HasSuffix(rel, "/"+want) {
			hits = append(hits, rel)
		}
	}
	if len(hits) != 1 {
		return nil, fmt.Errorf("the archive has %d files named %s (want exactly one): is it the right artifact?", len(hits), want)
	}
	return []copyPair{{filepath.Join(dir, hits[0]), it.Dst}}, nil
}

// CopyFile installs the real file src at host path dst with mode, streamed
// through a temporary file that is fsynced and renamed, and records it. An
// identical file is left untouched (its mtime too, so services depending
// on it are not restarted).
func CopyFile(root host.Root, rec phase.Recorder, dst, src string, mode fs.FileMode) (changed bool, sum Sum, err error) {
	full := root.Path(dst)
	want, err := SumFile(src)
	if err != nil {
		return false, Sum{}, err
	}
	if have, err := SumFile(full); err == nil && have.SHA256 == want.SHA256 {
		if st, err := os.Stat(full); err == nil && st.Mode().Perm() == mode.Perm() {
			return false, have, rec.File(dst, have.SHA256)
		}
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return false, Sum{}, fmt.Errorf("create directory for %s: %w", full, err)
	}
	// Record first: a crash after the rename must not leave an unlisted file.
	if err := rec.File(dst, want.SHA256); err != nil {
		return false, Sum{}, err
	}
	in, err := os.Open(src)
	if err != nil {
		return false, Sum{}, err
	}
	defer in.Close()
	// Beside the target, never $TMPDIR: a tmpfs there may be too small for
	// a kubelet, and the rename must stay on one filesystem.
	t, err := atomicfile.New(full, mode)
	if err != nil {
		return false, Sum{}, fmt.Errorf("write %s: %w", full, err)
	}
	defer t.Cleanup()
	if _, err := io.Copy(t, in); err != nil {
		return false, Sum{}, fmt.Errorf("write %s: %w", full, err)
	}
	if err := t.Commit(); err != nil {
		return false, Sum{}, fmt.Errorf("write %s: %w", full, err)
	}
	got, err := SumFile(full)
	return true, got, err
}

// extractDir is where an archive artifact is unpacked while its files are
// installed: beside the artifact in the cache, on the cache's filesystem
// (not $TMPDIR, often a small tmpfs), under one name per artifact so that
// what a crash leaves behind is replaced by the next run.
func extractDir(src string) string {
	return filepath.Join(filepath.Dir(src), "."+filepath.Base(src)+".unpacked")
}
