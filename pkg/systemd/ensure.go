package systemd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"
)

// Service is a unit and the files it reads (real paths): binaries, its
// configuration, its unit file and drop-ins.
type Service struct {
	Unit  string
	Files []string
}

// Stale reports whether a file of the service changed after the unit last
// became active, so the running process has not seen it. It survives a
// crash between writing a file and restarting, unlike an in-memory flag.
func (s Service) Stale(st UnitStatus) (bool, error) {
	newest, err := newestMTime(s.Files)
	if err != nil {
		return false, err
	}
	return newest.After(st.ActiveSince), nil
}

func newestMTime(files []string) (time.Time, error) {
	var newest time.Time
	for _, f := range files {
		st, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return newest, err
		}
		if st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	return newest, nil
}

// Satisfied reports whether the service is loaded from its current unit
// file, enabled, active, and has seen its current files.
func (s Service) Satisfied(ctx context.Context, m Manager) (bool, error) {
	st, err := m.Status(ctx, s.Unit)
	if err != nil {
		return false, err
	}
	if st.LoadState != "loaded" || st.NeedDaemonReload || !st.Enabled() || !st.Active() {
		return false, nil
	}
	stale, err := s.Stale(st)
	return !stale, err
}

// Ensure makes the service enabled and running with its current files:
// daemon-reload when unitChanged (or systemd says so), enable, start when
// stopped, restart when filesChanged in this run or a file is newer than
// the running process (a run killed between writing and restarting). It
// returns what it did, e.g. ["daemon-reload", "restart"]; nothing when the
// service already matched.
func (s Service) Ensure(ctx context.Context, m Manager, unitChanged, filesChanged bool) ([]string, error) {
	var did []string
	st, err := m.Status(ctx, s.Unit)
	if err != nil {
		return nil, err
	}
	if unitChanged || st.NeedDaemonReload || st.LoadState != "loaded" {
		if err := m.DaemonReload(ctx); err != nil {
			return did, err
		}
		did = append(did, "daemon-reload")
		if st, err = m.Status(ctx, s.Unit); err != nil {
			return did, err
		}
		if st.LoadState != "loaded" {
			return did, fmt.Errorf("systemd does not load %s after daemon-reload (state %q): check the unit file with `systemd-analyze verify`", s.Unit, st.LoadState)
		}
	}
	if !st.Enabled() {
		if err := m.Enable(ctx, s.Unit); err != nil {
			return did, err
		}
		did = append(did, "enable")
		// systemd keeps a loaded unit's UnitFileState until a reload: a
		// service a socket holds loaded (docker's, cri-dockerd's) still
		// says disabled after the enable when no reload came before it.
		again, err := m.Status(ctx, s.Unit)
		if err != nil {
			return did, err
		}
		if !again.Enabled() {
			if err := m.DaemonReload(ctx); err != nil {
				return did, err
			}
			did = append(did, "daemon-reload")
		}
	}
	if !st.Active() {
		if err := m.Start(ctx, s.Unit); err != nil {
			return did, err
		}
		return append(did, "start"), nil
	}
	stale, err := s.Stale(st)
	if err != nil {
		return did, err
	}
	if stale || filesChanged || unitChanged {
		if err := m.Restart(ctx, s.Unit); err != nil {
			return did, err
		}
		did = append(did, "restart")
	}
	return did, nil
}

// Owns reports whether the host path p is unit's file or one of its
// drop-ins.
func Owns(unit, p string) bool {
	return p == UnitPath(unit) || path.Dir(p) == UnitPath(unit)+".d"
}

// LoadedFromDisk reports whether systemd has st's unit loaded from the
// files on disk now, so that a daemon-reload would change nothing for it.
// changed are host paths of the unit's files just written or removed;
// exists says which are there. systemd loads a unit it does not know from
// disk when first asked about it (and, from 246, one it last found missing
// once a unit directory changed), and flags a loaded unit whose fragment or
// drop-ins changed since with NeedDaemonReload. Anything else (an older
// systemd, a manager that does not report its files) is false: reload.
// A daemon-reload costs 0.37–0.40 s on a Debian 12 host (systemctl
// daemon-reload in the e2e host), and install used to do two.
func LoadedFromDisk(st UnitStatus, changed []string, exists func(string) bool) bool {
	if st.LoadState != "loaded" || st.NeedDaemonReload || st.FragmentPath != UnitPath(st.Name) {
		return false
	}
	read := map[string]bool{st.FragmentPath: true}
	for _, p := range st.DropInPaths {
		read[p] = true
	}
	for _, p := range changed {
		if read[p] != exists(p) {
			return false
		}
	}
	return true
}
