// Package testrec is an in-memory phase.Recorder for unit tests.
package testrec

import (
	"sort"
	"sync"
)

// Recorder remembers every record, in order.
type Recorder struct {
	mu     sync.Mutex
	Files  map[string]string // path -> sha256
	Dirs   []string
	Units  []string
	Values map[string]string
	Calls  int
}

// New returns an empty Recorder.
func New() *Recorder { return &Recorder{Files: map[string]string{}, Values: map[string]string{}} }

// File implements phase.Recorder.
func (r *Recorder) File(path, sha string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Calls++
	r.Files[path] = sha
	return nil
}

// Forget implements phase.Forgetter.
func (r *Recorder) Forget(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Calls++
	delete(r.Files, path)
	return nil
}

// Dir implements phase.Recorder.
func (r *Recorder) Dir(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Calls++
	r.Dirs = appendOnce(r.Dirs, path)
	return nil
}

// Unit implements phase.Recorder.
func (r *Recorder) Unit(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Calls++
	r.Units = appendOnce(r.Units, name)
	return nil
}

// Set implements phase.Recorder.
func (r *Recorder) Set(key, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Calls++
	r.Values[key] = value
	return nil
}

// FilePaths returns the recorded file paths, sorted.
func (r *Recorder) FilePaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.Files))
	for p := range r.Files {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func appendOnce(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}
