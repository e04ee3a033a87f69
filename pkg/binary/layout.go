package binary

import (
	"os"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Layout is what one component puts on the host: its directories, its
// binaries from artifacts, its rendered files and its units, and the version
// fact it records. Install and render write it the same way.
type Layout struct {
	Dirs  []string
	Plan  Plan
	Files map[string]host.File
	Units []string
	// VersionKey and Version are the journal fact of the installed version.
	VersionKey, Version string
}

// WriteWarned logs the component's warnings, then writes the layout.
func (l Layout) WriteWarned(root host.Root, rec phase.Recorder, artifacts map[string]string, binaries bool, log logrus.FieldLogger, warnings []string) ([]string, error) {
	for _, w := range warnings {
		log.Warn(w)
	}
	return l.Write(root, rec, artifacts, binaries, log)
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

// Satisfied reports whether Write would change nothing: every binary is the
// artifact's, every rendered file holds what it would write, with its mode,
// and every directory exists.
func (l Layout) Satisfied(root host.Root, artifacts map[string]string) (bool, error) {
	if ok, err := l.Plan.Satisfied(root, artifacts); err != nil || !ok {
		return false, err
	}
	for p, want := range l.Files {
		if ok, err := SameFile(root.Path(p), want.Data, want.Mode); err != nil || !ok {
			return false, err
		}
	}
	for _, dir := range l.Dirs {
		if st, err := os.Stat(root.Path(dir)); err != nil || !st.IsDir() {
			return false, nil
		}
	}
	return true, nil
}
