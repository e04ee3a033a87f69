// Package systemd renders unit files and drives the service manager. The
// Manager interface is the boundary: systemd over D-Bus in production, an
// in-memory fake (package systemdtest) in unit tests of other packages.
package systemd

import (
	"context"
	"syscall"
	"time"
)

// UnitDir is where units installed by add2tkectl live: the administrator's
// directory, which wins over units shipped by distribution packages.
const UnitDir = "/etc/systemd/system"

// Unit states as systemd names them.
const (
	StateActive     = "active"
	StateActivating = "activating"
	StateFailed     = "failed"
	StateInactive   = "inactive"
	FileEnabled     = "enabled"
)

// Manager is what add2tkectl asks of the service manager. Every method that
// changes state waits for systemd's job to finish and returns its failure.
type Manager interface {
	// DaemonReload makes systemd re-read unit files from disk.
	DaemonReload(ctx context.Context) error
	// Enable makes units start at boot (their [Install] section).
	Enable(ctx context.Context, units ...string) error
	// Disable undoes Enable.
	Disable(ctx context.Context, units ...string) error
	// Start starts a unit and waits until its start job is done.
	Start(ctx context.Context, unit string) error
	// Restart restarts a unit (starts it if stopped) and waits for the job.
	Restart(ctx context.Context, unit string) error
	// Stop stops a unit and waits for the job.
	Stop(ctx context.Context, unit string) error
	// Status returns the unit's state; a unit systemd does not know has
	// LoadState "not-found" and no error.
	Status(ctx context.Context, unit string) (UnitStatus, error)
	// Kill sends signal to every process in the unit's cgroup (systemctl
	// kill --kill-whom=all): what a stop with KillMode=process leaves, such
	// as containerd's shims.
	Kill(ctx context.Context, unit string, signal syscall.Signal) error
	// ListUnits returns the units systemd has loaded (any state) whose
	// names match one of the glob patterns, e.g. "kubepods*.slice".
	ListUnits(ctx context.Context, patterns ...string) ([]UnitStatus, error)
	// ResetFailed forgets a unit's failed state, so a removed unit does not
	// linger in `systemctl --failed`.
	ResetFailed(ctx context.Context, unit string) error
	// Close releases the connection.
	Close()
}

// UnitStatus is the part of a unit's state that install, status and
// uninstall look at.
type UnitStatus struct {
	Name          string
	LoadState     string // loaded, not-found, masked...
	ActiveState   string // active, inactive, failed, activating...
	SubState      string // running, dead, exited...
	UnitFileState string // enabled, disabled, static...
	// ActiveSince is when the unit last entered the active state (zero if
	// never): a file the unit reads that is newer than this needs a restart.
	ActiveSince time.Time
	// NeedDaemonReload is systemd's own "unit file changed on disk" flag.
	NeedDaemonReload bool
	MainPID          uint32
	// FragmentPath and DropInPaths are the files systemd loaded the unit
	// from (empty when it is not loaded, and from managers that do not say).
	FragmentPath string
	DropInPaths  []string
}

// Active reports whether the unit is running (or, for oneshot/socket
// units, in its active state).
func (s UnitStatus) Active() bool { return s.ActiveState == StateActive }

// Enabled reports whether the unit starts at boot.
func (s UnitStatus) Enabled() bool { return s.UnitFileState == FileEnabled }

// IsActive is a shorthand for Status(...).Active().
func IsActive(ctx context.Context, m Manager, unit string) (bool, error) {
	st, err := m.Status(ctx, unit)
	if err != nil {
		return false, err
	}
	return st.Active(), nil
}
