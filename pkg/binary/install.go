package binary

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"

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
	// Unpacked has archives unpacked ahead (nil: Install unpacks them).
	Unpacked *artifact.Unpacks
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
	dirs, err := p.extract(artifacts)
	for _, dir := range dirs {
		defer os.RemoveAll(dir)
	}
	if err != nil {
		return nil, err
	}
	var jobs []copyJob
	for _, name := range p.artifacts() {
		for _, it := range p.Items {
			if it.Artifact != name {
				continue
			}
			files, err := it.sources(artifacts[name], dirs[name])
			if err != nil {
				return nil, fmt.Errorf("%s: artifact %s: %w", p.Component, name, err)
			}
			for _, f := range files {
				jobs = append(jobs, copyJob{copyPair: f, artifact: name, mode: it.Mode})
			}
		}
	}
	changed, err = copyAll(root, rec, jobs)
	if err != nil {
		return changed, err
	}
	for _, name := range p.artifacts() {
		src := artifacts[name]
		var whole *Sum // the sum of a copy of all of src, when an item is one
		for _, j := range jobs {
			if j.artifact == name {
				next.Files[j.dst] = j.sum
				if j.src == src {
					whole = &j.sum
				}
			}
		}
		sum, err := sourceSum(src, whole)
		if err != nil {
			return changed, fmt.Errorf("read artifact %s: %w", name, err)
		}
		next.Sources[name] = sum
	}
	return changed, SaveStamp(root, rec, p.Component, next)
}

// extract unpacks every archive artifact the plan takes files from, all at
// once (inflating is CPU-bound, and containerd's and the CNI plugins'
// archives are separate), and returns the directory of each by artifact
// name, also when it fails, so the caller removes them.
func (p Plan) extract(artifacts map[string]string) (map[string]string, error) {
	dirs := map[string]string{}
	var names []string
	for _, it := range p.Items {
		if _, ok := dirs[it.Artifact]; it.From != "" && !ok {
			dirs[it.Artifact] = artifact.UnpackDir(artifacts[it.Artifact])
			names = append(names, it.Artifact)
		}
	}
	err := parallel(len(names), func(i int) error {
		name := names[i]
		src := artifacts[name]
		// The download phase unpacks archives as they arrive, into the
		// same directory; the one safe extractor refuses escapes, links
		// out, device nodes and archive bombs, and drops setuid/setgid bits.
		_, ok, err := p.Unpacked.Take(src)
		if !ok {
			err = artifact.ExtractTarGz(src, dirs[name])
		}
		if err != nil {
			return fmt.Errorf("%s: artifact %s: %w", p.Component, name, err)
		}
		return nil
	})
	return dirs, err
}

// sourceSum is the artifact src's Sum. A binary artifact was just copied
// whole (copy is that copy's sum): only its stat is new. An archive is
// hashed here.
func sourceSum(src string, copy *Sum) (Sum, error) {
	if copy == nil {
		return SumFile(src)
	}
	st, err := os.Stat(src)
	if err != nil {
		return Sum{}, err
	}
	return Sum{Path: src, SHA256: copy.SHA256, Size: st.Size(), MTimeNs: st.ModTime().UnixNano()}, nil
}

type copyPair struct{ src, dst string }

// copyJob is one file of a plan to copy, and what the copy found.
type copyJob struct {
	copyPair
	artifact string
	mode     fs.FileMode
	sum      Sum
}

// copyAll installs every job's file: all are copied beside their targets
// (as many at once as there are CPUs, hashing a page-cached file being
// CPU-bound), recorded in one journal write (each write fsyncs file and
// directory: a plan's two dozen binaries took that many), then renamed
// into place. A file that replaces another is recorded alone, just before
// its rename (staged.replaces). A failure before the record leaves nothing
// installed. It returns the paths it rewrote, sorted.
func copyAll(root host.Root, rec phase.Recorder, jobs []copyJob) ([]string, error) {
	stagedAt := make([]staged, len(jobs))
	defer func() {
		for _, s := range stagedAt {
			s.cleanup() // a no-op once committed
		}
	}()
	err := parallel(len(jobs), func(i int) error {
		j := &jobs[i]
		var err error
		stagedAt[i], err = stage(root, j.dst, j.src, j.mode)
		return err
	})
	if err != nil {
		return nil, err
	}
	var records []phase.FileRecord
	for i, j := range jobs {
		if !stagedAt[i].replaces {
			records = append(records, phase.FileRecord{Path: j.dst, SHA256: stagedAt[i].digest})
		}
	}
	if err := phase.RecordFiles(rec, records); err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		changed []string
	)
	err = parallel(len(jobs), func(i int) error {
		if stagedAt[i].replaces {
			if err := rec.File(jobs[i].dst, stagedAt[i].digest); err != nil {
				return err
			}
		}
		did, sum, err := stagedAt[i].commit()
		mu.Lock()
		defer mu.Unlock()
		jobs[i].sum = sum
		if did {
			changed = append(changed, jobs[i].dst)
		}
		return err
	})
	sort.Strings(changed)
	return changed, err
}

// parallel runs f(0..n-1), as many at once as there are CPUs (at most 4),
// and joins the failures, sorted.
func parallel(n int, f func(i int) error) error {
	var (
		mu   sync.Mutex
		errs []error
		next = make(chan int)
		wg   sync.WaitGroup
	)
	for range min(goruntime.NumCPU(), n, 4) {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	sort.Slice(errs, func(i, k int) bool { return errs[i].Error() < errs[k].Error() })
	return errors.Join(errs...)
}

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

// copyFile installs the real file src at host path dst with mode, as
// copyAll does for a plan: streamed through a temporary file beside it,
// fsynced, recorded, renamed. An identical file is left untouched (its
// mtime too, so services depending on it are not restarted); the content
// is hashed once, while it is copied.
func copyFile(root host.Root, rec phase.Recorder, dst, src string, mode fs.FileMode) (changed bool, sum Sum, err error) {
	jobs := []copyJob{{copyPair: copyPair{src: src, dst: dst}, mode: mode}}
	rewrote, err := copyAll(root, rec, jobs)
	return len(rewrote) == 1, jobs[0].sum, err
}

// staged is a file copied beside its target and hashed, not yet renamed
// into place; pending is nil when the target already has its content and
// mode.
type staged struct {
	full, digest string
	pending      *atomicfile.Pending
	have         Sum
	// replaces: a different file is at the target now. It is recorded
	// alone, just before its rename: were it listed earlier and the
	// install stopped in between, uninstall would remove a file install
	// never wrote.
	replaces bool
}

// stage copies src beside host path dst (never into $TMPDIR: a tmpfs
// there may be too small for a kubelet, and the rename must stay on one
// filesystem), unless dst is identical already.
func stage(root host.Root, dst, src string, mode fs.FileMode) (staged, error) {
	full := root.Path(dst)
	if same, have, err := identical(full, src); err != nil {
		return staged{}, err
	} else if same {
		if st, err := os.Stat(full); err == nil && st.Mode().Perm() == mode.Perm() {
			return staged{full: full, digest: have.SHA256, have: have}, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return staged{}, fmt.Errorf("create directory for %s: %w", full, err)
	}
	in, err := os.Open(src)
	if err != nil {
		return staged{}, err
	}
	defer in.Close()
	_, statErr := os.Lstat(full)
	t, err := atomicfile.New(full, mode)
	if err != nil {
		return staged{}, fmt.Errorf("write %s: %w", full, err)
	}
	digest, known := artifact.VerifiedSum(src)
	if known {
		// A verified cache file: copied by the kernel (copy_file_range),
		// twice as fast as reading and hashing it here.
		_, err = io.Copy(t.File, in)
	} else {
		h := sha256.New()
		_, err = io.Copy(t, io.TeeReader(in, h))
		digest = hex.EncodeToString(h.Sum(nil))
	}
	if err != nil {
		t.Cleanup()
		return staged{}, fmt.Errorf("write %s: %w", full, err)
	}
	return staged{full: full, digest: digest, pending: t, replaces: statErr == nil}, nil
}

// commit renames a staged copy into place (it must be recorded first) and
// returns whether it changed the target, and the target's sum.
func (s staged) commit() (bool, Sum, error) {
	if s.pending == nil {
		return false, s.have, nil
	}
	if err := s.pending.Commit(); err != nil {
		return false, Sum{}, fmt.Errorf("write %s: %w", s.full, err)
	}
	st, err := os.Stat(s.full)
	if err != nil {
		return true, Sum{}, err
	}
	return true, Sum{Path: s.full, SHA256: s.digest, Size: st.Size(), MTimeNs: st.ModTime().UnixNano()}, nil
}

// cleanup removes a copy that was not committed.
func (s staged) cleanup() {
	if s.pending != nil {
		s.pending.Cleanup()
	}
}

// identical reports whether the file at full has src's content (and its
// sum); files of different sizes are not hashed.
func identical(full, src string) (bool, Sum, error) {
	have, err := os.Stat(full)
	if err != nil || !have.Mode().IsRegular() {
		return false, Sum{}, nil
	}
	want, err := os.Stat(src)
	if err != nil {
		return false, Sum{}, err
	}
	if have.Size() != want.Size() {
		return false, Sum{}, nil
	}
	hs, err := SumFile(full)
	if err != nil {
		return false, Sum{}, nil
	}
	if sha, ok := artifact.VerifiedSum(src); ok {
		return hs.SHA256 == sha, hs, nil
	}
	ws, err := SumFile(src)
	if err != nil {
		return false, Sum{}, err
	}
	return hs.SHA256 == ws.SHA256, hs, nil
}
