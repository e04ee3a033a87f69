package systemd

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// DBus is the Manager of the real systemd, over its private socket when
// running as root and the system bus otherwise (go-systemd decides).
type DBus struct{ conn *sddbus.Conn }

// JobError is a systemd job that did not end in "done": the unit failed to
// start, stop or restart.
type JobError struct {
	Op, Unit, Result string
}

func (e *JobError) Error() string {
	return fmt.Sprintf("systemd %s %s: job %s; see `journalctl -u %s` for why", e.Op, e.Unit, e.Result, e.Unit)
}

// NewDBus connects to systemd.
func NewDBus(ctx context.Context) (*DBus, error) {
	c, err := sddbus.NewWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus (is systemd PID 1 and are we root?): %w", err)
	}
	return &DBus{conn: c}, nil
}

// Close implements Manager.
func (d *DBus) Close() { d.conn.Close() }

// DaemonReload implements Manager.
func (d *DBus) DaemonReload(ctx context.Context) error {
	if err := d.conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("systemctl daemon-reload: %w", err)
	}
	return nil
}

// Enable implements Manager.
func (d *DBus) Enable(ctx context.Context, units ...string) error {
	if _, _, err := d.conn.EnableUnitFilesContext(ctx, units, false, true); err != nil {
		return fmt.Errorf("systemctl enable %v: %w", units, err)
	}
	return nil
}

// Disable implements Manager.
func (d *DBus) Disable(ctx context.Context, units ...string) error {
	if _, err := d.conn.DisableUnitFilesContext(ctx, units, false); err != nil {
		return fmt.Errorf("systemctl disable %v: %w", units, err)
	}
	return nil
}

type jobFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// job runs a unit job in "replace" mode and waits for its result.
func (d *DBus) job(ctx context.Context, op, unit string, f jobFunc) error {
	ch := make(chan string, 1)
	if _, err := f(ctx, unit, "replace", ch); err != nil {
		return fmt.Errorf("systemctl %s %s: %w", op, unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return &JobError{Op: op, Unit: unit, Result: res}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("systemctl %s %s: waiting for the job: %w", op, unit, ctx.Err())
	}
}

// Start implements Manager.
func (d *DBus) Start(ctx context.Context, unit string) error {
	return d.job(ctx, "start", unit, d.conn.StartUnitContext)
}

// Restart implements Manager.
func (d *DBus) Restart(ctx context.Context, unit string) error {
	return d.job(ctx, "restart", unit, d.conn.RestartUnitContext)
}

// Stop implements Manager.
func (d *DBus) Stop(ctx context.Context, unit string) error {
	return d.job(ctx, "stop", unit, d.conn.StopUnitContext)
}

// Status implements Manager.
func (d *DBus) Status(ctx context.Context, unit string) (UnitStatus, error) {
	p, err := d.conn.GetUnitPropertiesContext(ctx, unit)
	if err != nil {
		return UnitStatus{}, fmt.Errorf("systemctl show %s: %w", unit, err)
	}
	st := UnitStatus{Name: unit}
	st.LoadState, _ = p["LoadState"].(string)
	st.ActiveState, _ = p["ActiveState"].(string)
	st.SubState, _ = p["SubState"].(string)
	st.UnitFileState, _ = p["UnitFileState"].(string)
	st.NeedDaemonReload, _ = p["NeedDaemonReload"].(bool)
	st.FragmentPath, _ = p["FragmentPath"].(string)
	st.DropInPaths, _ = p["DropInPaths"].([]string)
	if us, ok := p["ActiveEnterTimestamp"].(uint64); ok && us > 0 {
		st.ActiveSince = time.UnixMicro(int64(us))
	}
	if typ := unitType(unit); typ == "Service" {
		if sp, err := d.conn.GetUnitTypePropertyContext(ctx, unit, typ, "MainPID"); err == nil {
			st.MainPID, _ = sp.Value.Value().(uint32)
		}
	}
	if st.LoadState == "" {
		return st, errors.New("systemctl show " + unit + ": no LoadState in the answer")
	}
	return st, nil
}

func unitType(unit string) string {
	for i := len(unit) - 1; i >= 0; i-- {
		if unit[i] == '.' {
			switch unit[i+1:] {
			case "service":
				return "Service"
			case "socket":
				return "Socket"
			}
			return ""
		}
	}
	return ""
}

// Kill implements Manager.
func (d *DBus) Kill(ctx context.Context, unit string, signal syscall.Signal) error {
	if err := d.conn.KillUnitWithTarget(ctx, unit, sddbus.All, int32(signal)); err != nil {
		return fmt.Errorf("systemctl kill --kill-whom=all --signal=%d %s: %w", int(signal), unit, err)
	}
	return nil
}

// ListUnits implements Manager.
func (d *DBus) ListUnits(ctx context.Context, patterns ...string) ([]UnitStatus, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	us, err := d.conn.ListUnitsByPatternsContext(ctx, nil, patterns)
	if err != nil {
		return nil, fmt.Errorf("systemctl list-units %v: %w", patterns, err)
	}
	out := make([]UnitStatus, 0, len(us))
	for _, u := range us {
		out = append(out, UnitStatus{Name: u.Name, LoadState: u.LoadState, ActiveState: u.ActiveState, SubState: u.SubState})
	}
	return out, nil
}

// ResetFailed implements Manager.
func (d *DBus) ResetFailed(ctx context.Context, unit string) error {
	if err := d.conn.ResetFailedUnitContext(ctx, unit); err != nil {
		return fmt.Errorf("systemctl reset-failed %s: %w", unit, err)
	}
	return nil
}
