package binary

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Layout is what one component puts on the host: its directories, its
// binaries from artifacts, its rendered files and its units, and the version
// fact it records. Install and render write it the same way.
type Layout struct {
	Dirs  []string
	Plan  Plan
	Files map[string]host.File
	// Absent are host paths that must not exist: files an earlier install
	// wrote that no setting asks for any more (a proxy drop-in once the
	// proxy is gone). Write removes them and forgets them in the journal.
	Absent []string
	Units  []string
	// VersionKey and Version are the journal fact of the installed version.
	VersionKey, Version string
	// Services are the units with the files each reads, in the order to
	// start them.
	Services []systemd.Service
	// Warnings are for the operator, logged when the layout is written.
	Warnings []string
	// Sweeps find the files of a former run the layout no longer has.
	Sweeps []Sweep
}

// WriteFiles logs the warnings, then writes the layout and starts nothing.
func (l Layout) WriteFiles(d component.Deps, binaries bool) ([]string, error) {
	for _, w := range l.Warnings {
		d.Log.Warn(w)
	}
	l.Plan.Unpacked = d.Unpacks
	return l.Write(d.Root, d.Recorder, d.Artifacts, binaries, d.Log)
}

// Install writes the layout with its binaries, then makes every service
// enabled and running with its current files: one daemon-reload when a
// unit file changed, a restart only of a service whose files changed (or
// that has not seen them). ready, when set, waits for the component to
// answer. It returns whether anything changed.
func (l Layout) Install(ctx context.Context, d component.Deps, ready func(context.Context) error) (bool, error) {
	wrote, err := l.WriteFiles(d, true)
	if err != nil {
		return false, err
	}
	changed := map[string]bool{}
	unitChanged := false
	for _, p := range wrote {
		changed[d.Root.Path(p)] = true
		unitChanged = unitChanged || strings.HasPrefix(p, systemd.UnitDir+"/")
	}
	var did []string
	if unitChanged {
		current, err := l.unitsLoaded(ctx, d, wrote)
		if err != nil {
			return false, err
		}
		if current {
			d.Log.Debug("systemd loaded the new unit files when asked: no daemon-reload")
		} else {
			if err := d.Systemd.DaemonReload(ctx); err != nil {
				return false, err
			}
			did = append(did, "daemon-reload")
		}
	}
	for _, s := range l.Services {
		filesChanged := false
		for _, f := range s.Files {
			filesChanged = filesChanged || changed[f]
		}
		got, err := s.Ensure(ctx, d.Systemd, false, filesChanged)
		if err != nil {
			return false, err
		}
		for _, g := range got {
			did = append(did, g+" "+s.Unit)
		}
	}
	if len(did) > 0 {
		d.Log.WithField("systemd", did).Info("services converged")
	}
	if ready != nil {
		if err := ready(ctx); err != nil {
			return false, err
		}
	}
	return len(wrote) > 0 || len(did) > 0, nil
}

// unitsLoaded reports whether systemd already has every unit whose files
// are among wrote loaded from them (systemd.LoadedFromDisk), so no
// daemon-reload is needed. A unit file of no unit of the layout says no.
func (l Layout) unitsLoaded(ctx context.Context, d component.Deps, wrote []string) (bool, error) {
	byUnit := map[string][]string{}
	for _, p := range wrote {
		if !strings.HasPrefix(p, systemd.UnitDir+"/") {
			continue
		}
		owner := ""
		for _, u := range l.Units {
			if systemd.Owns(u, p) {
				owner = u
			}
		}
		if owner == "" {
			return false, nil
		}
		byUnit[owner] = append(byUnit[owner], p)
	}
	exists := func(p string) bool {
		_, err := os.Lstat(d.Root.Path(p))
		return err == nil
	}
	for u, paths := range byUnit {
		st, err := d.Systemd.Status(ctx, u)
		if err != nil {
			return false, err
		}
		if !systemd.LoadedFromDisk(st, paths, exists) {
			d.Log.WithFields(logrus.Fields{"unit": u, "loadState": st.LoadState, "fragment": st.FragmentPath, "dropIns": st.DropInPaths, "needReload": st.NeedDaemonReload, "changed": paths}).Debug("systemd has not loaded the unit's current files: daemon-reload")
			return false, nil
		}
	}
	return true, nil
}

// Write puts the layout on the host, recording every directory, file and
// unit, and returns the host paths it changed. Without binaries (render with
// no artifacts) the plan and the version fact are left out.
func (l Layout) Write(root host.Root, rec phase.Recorder, artifacts map[string]string, binaries bool, log logrus.FieldLogger) (changed []string, err error) {
	for _, dir := range l.Dirs {
		if err := EnsureDir(root, rec, dir, 0o755); err != nil {
			return nil, err
		}
	}
	if binaries {
		bins, err := l.Plan.Install(root, rec, artifacts)
		if err != nil {
			return nil, err
		}
		for _, b := range bins {
			log.WithField("file", b).Info("installed")
		}
		changed = append(changed, bins...)
	}
	rendered, err := root.WriteAll(rec, l.Files)
	for _, p := range rendered {
		log.WithField("file", p).Info("rendered")
	}
	changed = append(changed, rendered...)
	if err != nil {
		return changed, err
	}
	old, err := stale(root, l.Sweeps, l.Files)
	if err != nil {
		return changed, err
	}
	gone, err := removeStale(root, old)
	for _, p := range gone {
		log.WithField("file", p).Info("removed: no longer in the settings")
	}
	changed = append(changed, gone...)
	if err != nil {
		return changed, err
	}
	removed, err := removeAbsent(root, rec, l.Absent)
	for _, p := range removed {
		log.WithField("file", p).Info("removed")
	}
	changed = append(changed, removed...)
	if err != nil {
		return changed, err
	}
	for _, u := range l.Units {
		if err := rec.Unit(u); err != nil {
			return changed, err
		}
	}
	if binaries && l.VersionKey != "" {
		if err := rec.Set(l.VersionKey, l.Version); err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// removeAbsent removes each of paths that exists and returns those it
// removed. The journal forgets each (removed now or by an earlier run
// killed before it could forget) only once it is gone, so a crash never
// leaves a file on the host that the journal does not list.
func removeAbsent(root host.Root, rec phase.Recorder, paths []string) ([]string, error) {
	var removed []string
	for _, p := range paths {
		err := os.Remove(root.Path(p))
		switch {
		case err == nil:
			removed = append(removed, p)
		case !errors.Is(err, fs.ErrNotExist):
			return removed, fmt.Errorf("remove %s: %w", root.Path(p), err)
		}
		if f, ok := rec.(phase.Forgetter); ok {
			if err := f.Forget(p); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// Satisfied reports whether Install would change nothing: Written, and
// every service loaded, enabled, running and having seen its files.
func (l Layout) Satisfied(ctx context.Context, d component.Deps) (bool, error) {
	if ok, err := l.Written(d.Root, d.Artifacts); err != nil || !ok {
		return false, err
	}
	for _, s := range l.Services {
		if ok, err := s.Satisfied(ctx, d.Systemd); err != nil || !ok {
			if err != nil {
				return false, fmt.Errorf("%s: %w", s.Unit, err)
			}
			return false, nil
		}
	}
	return true, nil
}

// Written reports whether Write would change nothing: every binary is the
// artifact's, every rendered file holds what it would write, with its mode,
// no file of a former run is left that the layout no longer has, and
// every directory exists.
func (l Layout) Written(root host.Root, artifacts map[string]string) (bool, error) {
	if ok, err := l.Plan.Satisfied(root, artifacts); err != nil || !ok {
		return false, err
	}
	for p, want := range l.Files {
		if ok, err := SameFile(root.Path(p), want.Data, want.Mode); err != nil || !ok {
			return false, err
		}
	}
	if old, err := stale(root, l.Sweeps, l.Files); err != nil || len(old) > 0 {
		return false, err
	}
	for _, dir := range l.Dirs {
		if st, err := os.Stat(root.Path(dir)); err != nil || !st.IsDir() {
			return false, nil
		}
	}
	for _, p := range l.Absent {
		if _, err := os.Lstat(root.Path(p)); !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
	}
	return true, nil
}

// Installer is a component's install side built from its layout: the
// component gives how to compute its layout and how to wait for it to
// answer, and gets component.Installer.
type Installer struct {
	Deps   component.Deps
	Layout func() (Layout, error)
	// Ready waits for the component to answer after Install; nil for none.
	Ready func(ctx context.Context) error
}

var _ component.Installer = Installer{}

func (i Installer) WriteFiles(binaries bool) ([]string, error) {
	l, err := i.Layout()
	if err != nil {
		return nil, err
	}
	return l.WriteFiles(i.Deps, binaries)
}

func (i Installer) Install(ctx context.Context) (bool, error) {
	l, err := i.Layout()
	if err != nil {
		return false, err
	}
	return l.Install(ctx, i.Deps, i.Ready)
}

func (i Installer) Satisfied(ctx context.Context) (bool, error) {
	l, err := i.Layout()
	if err != nil {
		return false, err
	}
	return l.Satisfied(ctx, i.Deps)
}
