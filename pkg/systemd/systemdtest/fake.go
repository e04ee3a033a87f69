// Package systemdtest has what tests of other packages need from systemd:
// an in-memory Manager and a check of unit files with systemd-analyze.
package systemdtest

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Fake is an in-memory systemd.Manager. With Root set, DaemonReload loads
// the units found under Root's /etc/systemd/system, and starting a unit it
// has not loaded fails as systemd would; without Root every unit is known.
type Fake struct {
	Root string
	// FailStart makes Start/Restart of the named unit fail with this result.
	FailStart map[string]string

	mu    sync.Mutex
	units map[string]*fakeUnit
	calls []string
	now   func() time.Time
}

type fakeUnit struct {
	loaded, enabled, active bool
	transient               bool // made at runtime, has no unit file
	since                   time.Time
}

// NewFake returns a Fake whose units live under root ("" for none).
func NewFake(root string) *Fake {
	return &Fake{Root: root, units: map[string]*fakeUnit{}, now: time.Now}
}

// Calls returns the operations done so far, e.g. "restart containerd.service".
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// ResetCalls forgets the operations recorded so far.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Count returns how many recorded calls start with prefix.
func (f *Fake) Count(prefix string) int {
	n := 0
	for _, c := range f.Calls() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *Fake) unit(name string) *fakeUnit {
	u := f.units[name]
	if u == nil {
		u = &fakeUnit{loaded: f.Root == ""}
		f.units[name] = u
	}
	return u
}

func (f *Fake) record(op string, units ...string) {
	f.calls = append(f.calls, strings.TrimSpace(op+" "+strings.Join(units, " ")))
}

// DaemonReload implements systemd.Manager.
func (f *Fake) DaemonReload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("daemon-reload")
	if f.Root == "" {
		return nil
	}
	entries, err := os.ReadDir(filepath.Join(f.Root, systemd.UnitDir))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	onDisk := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			onDisk[e.Name()] = true
			f.unit(e.Name()).loaded = true
		}
	}
	// A unit whose file is gone is forgotten, as systemd does, unless it
	// still runs (systemd keeps it loaded until it stops) or is transient.
	for n, u := range f.units {
		if !onDisk[n] && !u.transient && !u.active {
			u.loaded, u.enabled = false, false
		}
	}
	return nil
}

// Enable implements systemd.Manager.
func (f *Fake) Enable(_ context.Context, units ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("enable", units...)
	for _, n := range units {
		u := f.unit(n)
		if !u.loaded {
			return fmt.Errorf("systemctl enable %s: Unit file %s does not exist", n, n)
		}
		u.enabled = true
	}
	return nil
}

// Disable implements systemd.Manager.
func (f *Fake) Disable(_ context.Context, units ...string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("disable", units...)
	for _, n := range units {
		f.unit(n).enabled = false
	}
	return nil
}

func (f *Fake) start(op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(op, name)
	u := f.unit(name)
	if !u.loaded {
		return fmt.Errorf("systemctl %s %s: Unit %s not found", op, name, name)
	}
	if res, ok := f.FailStart[name]; ok {
		u.active = false
		return &systemd.JobError{Op: op, Unit: name, Result: res}
	}
	u.active, u.since = true, f.now()
	return nil
}

// Start implements systemd.Manager; starting an active unit does nothing.
func (f *Fake) Start(_ context.Context, name string) error {
	f.mu.Lock()
	active := f.unit(name).active
	f.mu.Unlock()
	if active {
		f.mu.Lock()
		f.record("start", name)
		f.mu.Unlock()
		return nil
	}
	return f.start("start", name)
}

// Restart implements systemd.Manager.
func (f *Fake) Restart(_ context.Context, name string) error { return f.start("restart", name) }

// Stop implements systemd.Manager.
func (f *Fake) Stop(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("stop", name)
	f.unit(name).active = false
	return nil
}

// Status implements systemd.Manager.
func (f *Fake) Status(_ context.Context, name string) (systemd.UnitStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.unit(name)
	st := systemd.UnitStatus{Name: name, LoadState: "not-found", ActiveState: systemd.StateInactive, SubState: "dead", UnitFileState: "disabled"}
	if u.loaded {
		st.LoadState = "loaded"
	}
	if u.enabled {
		st.UnitFileState = systemd.FileEnabled
	}
	if u.active {
		st.ActiveState, st.SubState, st.ActiveSince = systemd.StateActive, "running", u.since
	}
	return st, nil
}

// SetActive changes a unit's state behind the caller's back, as a crash or
// an operator's `systemctl stop` would.
func (f *Fake) SetActive(name string, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.unit(name)
	u.active = active
	if active {
		u.since = f.now()
	}
}

// Kill implements systemd.Manager: it records "kill SIGNAL unit"; a unit's
// processes are not modelled.
func (f *Fake) Kill(_ context.Context, name string, signal syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record(fmt.Sprintf("kill %d", int(signal)), name)
	return nil
}

// ListUnits implements systemd.Manager: the units loaded or active whose
// names match a pattern, sorted by name.
func (f *Fake) ListUnits(_ context.Context, patterns ...string) ([]systemd.UnitStatus, error) {
	f.mu.Lock()
	names := make([]string, 0, len(f.units))
	for n, u := range f.units {
		if !u.loaded && !u.active {
			continue
		}
		for _, p := range patterns {
			if ok, _ := path.Match(p, n); ok {
				names = append(names, n)
				break
			}
		}
	}
	f.mu.Unlock()
	sort.Strings(names)
	out := make([]systemd.UnitStatus, 0, len(names))
	for _, n := range names {
		st, _ := f.Status(context.Background(), n)
		out = append(out, st)
	}
	return out, nil
}

// ResetFailed implements systemd.Manager.
func (f *Fake) ResetFailed(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("reset-failed", name)
	return nil
}

// AddTransient makes a running unit appear that no unit file describes,
// as systemd creates for the kubelet's slices and the runtime's scopes.
func (f *Fake) AddTransient(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.unit(name)
	u.loaded, u.active, u.transient, u.since = true, true, true, f.now()
}

// Close implements systemd.Manager.
func (f *Fake) Close() {}

var _ systemd.Manager = (*Fake)(nil)
