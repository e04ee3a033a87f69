package systemd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
