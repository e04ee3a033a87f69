package phase

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// journalSchema is bumped when the journal's shape changes incompatibly.
const journalSchema = 1

// Journal is what every run has put on the host, phase by phase, so that
// status and uninstall act on exactly that. It accumulates over runs: a
// file recorded once stays listed until uninstall removes it.
type Journal struct {
	SchemaVersion int       `json:"schemaVersion"`
	UpdatedAt     time.Time `json:"updatedAt"`
	// Phases are in the order they first ran.
	Phases []*PhaseRecord `json:"phases"`
}

// PhaseRecord is the journal of one phase.
type PhaseRecord struct {
	Name string `json:"name"`
	// Status is the outcome of the last run that reached the phase;
	// "running" means that run ended (was killed) inside it.
	Status     Status     `json:"status"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	// CheckedAt is when a run last found the phase already satisfied.
	CheckedAt *time.Time        `json:"checkedAt,omitempty"`
	Error     string            `json:"error,omitempty"`
	Files     []FileRecord      `json:"files,omitempty"`
	Dirs      []string          `json:"dirs,omitempty"`
	Units     []string          `json:"units,omitempty"`
	Values    map[string]string `json:"values,omitempty"`
}

// FileRecord is a file a phase wrote, as host path and sha256 of what it wrote.
type FileRecord struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// journalFile maps the journal's host path under root.
func journalFile(root string) string {
	return filepath.Join(rootDir(root), paths.JournalPath)
}

func rootDir(root string) string {
	if root == "" {
		return "/"
	}
	return root
}

// LoadJournal reads the journal under root. A host where nothing ran yet
// has an empty journal, not an error.
func LoadJournal(root string) (*Journal, error) {
	path := journalFile(root)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Journal{SchemaVersion: journalSchema}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the state journal %s: %w", path, err)
	}
	j := &Journal{}
	if err := json.Unmarshal(b, j); err != nil {
		return nil, fmt.Errorf("the state journal %s is not valid JSON (%v): move it aside to start a new one; uninstall will then not know what earlier runs installed", path, err)
	}
	if j.SchemaVersion > journalSchema {
		return nil, fmt.Errorf("the state journal %s has schema version %d, newer than this add2tkectl understands (%d): use the add2tkectl that wrote it, or a newer one", path, j.SchemaVersion, journalSchema)
	}
	return j, nil
}

// Phase returns the record of the named phase, or nil.
func (j *Journal) Phase(name string) *PhaseRecord {
	for _, p := range j.Phases {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Files returns every file recorded by any phase, by path; when two phases
// recorded the same path, the later record wins.
func (j *Journal) Files() []FileRecord {
	byPath := map[string]FileRecord{}
	for _, p := range j.Phases {
		for _, f := range p.Files {
			byPath[f.Path] = f
		}
	}
	out := make([]FileRecord, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Path < out[b].Path })
	return out
}

// Dirs returns every directory recorded by any phase, sorted.
func (j *Journal) Dirs() []string {
	return j.union(func(p *PhaseRecord) []string { return p.Dirs })
}

// Units returns every systemd unit recorded by any phase, sorted.
func (j *Journal) Units() []string {
	return j.union(func(p *PhaseRecord) []string { return p.Units })
}

// Values returns the facts recorded by all phases; a later phase's value
// for the same key wins.
func (j *Journal) Values() map[string]string {
	out := map[string]string{}
	for _, p := range j.Phases {
		for k, v := range p.Values {
			out[k] = v
		}
	}
	return out
}

// Interrupted returns the phases a run was inside of when it ended without
// finishing them (killed, power loss).
func (j *Journal) Interrupted() []string {
	var out []string
	for _, p := range j.Phases {
		if p.Status == StatusRunning {
			out = append(out, p.Name)
		}
	}
	return out
}

func (j *Journal) union(get func(*PhaseRecord) []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range j.Phases {
		for _, s := range get(p) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// journalWriter persists the journal after every change to the host,
// atomically, so a kill at any instant leaves the last complete state on
// disk; a phase found satisfied changes nothing and is saved with the next
// write or when the run ends.
type journalWriter struct {
	mu   sync.Mutex
	path string
	j    *Journal
	now  func() time.Time
	// noted: a phase found satisfied, held in memory until the next save
	// or flush: every write fsyncs file and directory (8 a no-op used to
	// pay), and losing a "checked at" to a crash costs nothing.
	noted bool
}

func openJournal(root string, now func() time.Time) (*journalWriter, error) {
	j, err := LoadJournal(root)
	if err != nil {
		return nil, err
	}
	j.SchemaVersion = journalSchema
	return &journalWriter{path: journalFile(root), j: j, now: now}, nil
}

// update applies change to the named phase's record and persists the
// journal if change reports that it changed something. Since every change
// is saved at once, the file on disk always equals the journal in memory;
// a record that is already there (a re-run rewriting an identical file)
// costs no write.
func (w *journalWriter) update(name string, change func(*PhaseRecord) bool) error {
	if w == nil { // Options.NoJournal
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !change(w.record(name)) {
		return nil
	}
	w.j.UpdatedAt = w.now().UTC()
	return w.save()
}

// record is the named phase's record, added when the journal has none
// (w.mu held).
func (w *journalWriter) record(name string) *PhaseRecord {
	rec := w.j.Phase(name)
	if rec == nil {
		rec = &PhaseRecord{Name: name}
		w.j.Phases = append(w.j.Phases, rec)
	}
	return rec
}

// note is update without the save: the change waits for the next one, or
// for flush.
func (w *journalWriter) note(name string, change func(*PhaseRecord)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	change(w.record(name))
	w.j.UpdatedAt = w.now().UTC()
	w.noted = true
}

// flush saves what note held back.
func (w *journalWriter) flush() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.noted {
		return nil
	}
	return w.save()
}

func (w *journalWriter) save() error {
	b, err := json.MarshalIndent(w.j, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the state journal: %w", err)
	}
	b = append(b, '\n')
	// 0700/0600: the journal lists paths and values operators may consider sensitive.
	if err := atomicfile.MkdirAll(filepath.Dir(w.path), 0o700); err != nil {
		return fmt.Errorf("create the directory of the state journal %s: %w", w.path, err)
	}
	// 0600 even over an older, wider file; durable once save returns (the
	// directory is fsynced after the rename).
	if err := atomicfile.Write(w.path, b, 0o600); err != nil {
		return fmt.Errorf("write the state journal: %w", err)
	}
	w.noted = false
	return nil
}

func (w *journalWriter) start(name string) error {
	if w == nil {
		return nil
	}
	t := w.now().UTC()
	return w.update(name, func(r *PhaseRecord) bool {
		r.Status, r.StartedAt, r.FinishedAt, r.Error = StatusRunning, &t, nil, ""
		return true
	})
}

func (w *journalWriter) finish(name string, status Status, errText string) error {
	if w == nil {
		return nil
	}
	t := w.now().UTC()
	if status == StatusUnchanged {
		w.note(name, func(r *PhaseRecord) { r.Status, r.Error, r.CheckedAt = status, errText, &t })
		return nil
	}
	return w.update(name, func(r *PhaseRecord) bool {
		r.Status, r.Error, r.FinishedAt = status, errText, &t
		return true
	})
}

// recorder is the Recorder a phase gets: every call lands in its record.
type recorder struct {
	w     *journalWriter
	phase string
	mu    sync.Mutex
	calls int
}

func (r *recorder) touch() {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
}

func (r *recorder) recorded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls > 0
}

func (r *recorder) File(path, sha256 string) error {
	return r.Files([]FileRecord{{Path: path, SHA256: sha256}})
}

// Files implements BatchRecorder: one write for all of records.
func (r *recorder) Files(records []FileRecord) error {
	r.touch()
	return r.w.update(r.phase, func(p *PhaseRecord) bool {
		changed := false
	next:
		for _, f := range records {
			for i := range p.Files {
				if p.Files[i].Path == f.Path {
					changed = changed || p.Files[i].SHA256 != f.SHA256
					p.Files[i].SHA256 = f.SHA256
					continue next
				}
			}
			p.Files = append(p.Files, f)
			changed = true
		}
		return changed
	})
}

// Forget drops path from every phase's files: the phase removed it. It
// counts as a record only when the journal listed the file.
func (r *recorder) Forget(path string) error {
	if r.w == nil {
		return nil
	}
	r.w.mu.Lock()
	defer r.w.mu.Unlock()
	changed := false
	for _, p := range r.w.j.Phases {
		kept := p.Files[:0]
		for _, f := range p.Files {
			if f.Path == path {
				changed = true
				continue
			}
			kept = append(kept, f)
		}
		p.Files = kept
	}
	if !changed {
		return nil
	}
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
	r.w.j.UpdatedAt = r.w.now().UTC()
	return r.w.save()
}

func (r *recorder) Dir(path string) error {
	r.touch()
	return r.w.update(r.phase, func(p *PhaseRecord) bool { return appendOnce(&p.Dirs, path) })
}

func (r *recorder) Unit(name string) error {
	r.touch()
	return r.w.update(r.phase, func(p *PhaseRecord) bool { return appendOnce(&p.Units, name) })
}

func (r *recorder) Set(key, value string) error {
	r.touch()
	return r.w.update(r.phase, func(p *PhaseRecord) bool {
		if old, ok := p.Values[key]; ok && old == value {
			return false
		}
		if p.Values == nil {
			p.Values = map[string]string{}
		}
		p.Values[key] = value
		return true
	})
}

// appendOnce adds s to *list unless it is there, and says whether it added.
func appendOnce(list *[]string, s string) bool {
	for _, x := range *list {
		if x == s {
			return false
		}
	}
	*list = append(*list, s)
	return true
}
