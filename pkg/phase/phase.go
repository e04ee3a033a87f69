// Package phase runs an ordered list of phases: ordering, dry-run, skip,
// timing, the state journal, the lock and progress live here and nowhere else.
package phase

import "context"

// Phase is one step of a workflow, described as data.
type Phase struct {
	// Name is what --skip-phases and the journal call it.
	Name string
	// Description is one line for the plan and progress output.
	Description string
	// Satisfied reports whether the host already is as Run would leave it;
	// a satisfied phase is not run and counts as unchanged. Nil means never.
	Satisfied func(ctx context.Context) (bool, error)
	// Await, when set, runs after Satisfied said yes: it waits for what is
	// already as Run would leave it to be healthy again (a rebooted
	// kubelet's Node turning Ready) and changes nothing, so the phase still
	// counts as unchanged. An error fails the phase.
	Await func(ctx context.Context) error
	// Run makes the host satisfy the phase, recording what it installs.
	Run func(ctx context.Context, rec Recorder) error
}

// Recorder is how a phase tells the journal what it put on the host, so that
// uninstall removes exactly that. Every call is persisted before it returns,
// so a crash right after a write still leaves the write on record.
type Recorder interface {
	// File records a file written (root-relative path) with its sha256.
	File(path, sha256 string) error
	// Dir records a directory created.
	Dir(path string) error
	// Unit records a systemd unit installed.
	Unit(name string) error
	// Set records a fact, e.g. an installed version or a setting to revert.
	Set(key, value string) error
}

// BatchRecorder is a Recorder that records many files in one journal
// write (each write fsyncs file and directory): a plan's two dozen
// binaries are recorded at once before any is renamed into place.
type BatchRecorder interface {
	Files(records []FileRecord) error
}

// RecordFiles records every file of records: at once when rec is a
// BatchRecorder, one by one otherwise.
func RecordFiles(rec Recorder, records []FileRecord) error {
	if b, ok := rec.(BatchRecorder); ok {
		return b.Files(records)
	}
	for _, f := range records {
		if err := rec.File(f.Path, f.SHA256); err != nil {
			return err
		}
	}
	return nil
}

// Forgetter is a Recorder that can drop a file from the journal once a
// phase removed it from the host (a drop-in no setting asks for any more),
// so that status does not report it missing. Recorders that cannot forget
// leave the record, which uninstall then finds gone: harmless.
type Forgetter interface {
	// Forget removes path's record from every phase.
	Forget(path string) error
}
