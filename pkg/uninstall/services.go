package uninstall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// transient are the patterns of the units systemd makes for the pods (the
// systemd cgroup driver) of the installed components: the kubelet's QoS
// and pod slices and the runtime's container scopes. They exist only while
// the kubelet we installed ran pods.
func (u *Uninstall) transient() []string {
	var out []string
	for _, c := range u.d.Components.All() {
		if u.unitsInstalled(c) {
			out = append(out, c.Footprint().Transient...)
		}
	}
	return out
}

// containers is the remover of the runtime of kind, or nil.
func (u *Uninstall) containers(kind string) component.ContainerRemover {
	if u.d.Containers != nil {
		return u.d.Containers(kind)
	}
	if r := u.d.Components.Runtime(kind); r != nil {
		return r.Containers(u.d.Root)
	}
	return nil
}

// containersTimeout bounds removing the containers through the runtime;
// what is left then goes with the cgroups.
const containersTimeout = time.Minute

func (u *Uninstall) planPods(ctx context.Context) ([]string, error) {
	var plan []string
	for _, l := range u.d.Components.Launchers {
		plan = append(plan, l.RemovalPlan(u.d.Root)...)
	}
	units := u.units()
	if len(units) == 0 {
		return plan, nil
	}
	m, err := u.systemd(ctx)
	if err != nil {
		return nil, err
	}
	for _, unit := range units {
		st, err := m.Status(ctx, unit)
		if err != nil {
			return nil, err
		}
		if st.ActiveState != systemd.StateInactive {
			plan = append(plan, "stop "+unit)
		}
		if st.Enabled() {
			plan = append(plan, "disable "+unit)
		}
	}
	if kind := u.runtimeKind(); kind != "" {
		if r := u.containers(kind); r != nil {
			if ids, err := r.List(ctx); err == nil && len(ids) > 0 {
				plan = append(plan, fmt.Sprintf("remove %d containers and sandboxes through %s", len(ids), kind))
			}
		}
	}
	if u.agentInstalled() {
		tr, err := m.ListUnits(ctx, u.transient()...)
		if err != nil {
			return nil, err
		}
		for _, t := range tr {
			if t.ActiveState != systemd.StateInactive {
				plan = append(plan, "stop "+t.Name)
			}
		}
	}
	return plan, nil
}

// runPods stops the kubelet first (it would restart what is removed under
// it), removes the containers through the runtime while it runs, stops the
// pods' slices and scopes, stops the runtime, kills what its cgroup still
// holds (the shims survive a stop: KillMode=process), and disables every
// unit. Only units the journal lists are touched.
func (u *Uninstall) runPods(ctx context.Context) error {
	m, err := u.systemd(ctx)
	if err != nil {
		return err
	}
	// What runs install from outside first: a retry of it would install again.
	var errs []error
	for _, l := range u.d.Components.Launchers {
		if err := l.Remove(ctx, u.d.Root, u.systemd); err != nil {
			errs = append(errs, err)
		}
	}
	for _, unit := range u.units() {
		if u.isAgentUnit(unit) {
			if err := u.stop(ctx, m, unit); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if kind := u.runtimeKind(); kind != "" {
		if r := u.containers(kind); r != nil {
			cctx, cancel := context.WithTimeout(ctx, containersTimeout)
			n, err := r.RemoveAll(cctx)
			cancel()
			switch {
			case errors.Is(err, component.ErrRuntimeDown):
				u.d.Log.WithField("runtime", kind).Info("the runtime is not running: its containers go with their cgroups")
			case err != nil:
				u.warn("pods", "removing containers through %s: %v; what is left is killed with its cgroup", kind, err)
			case n > 0:
				u.d.Log.WithFields(logrus.Fields{"runtime": kind, "containers": n}).Info("removed the containers and sandboxes")
			}
		}
	}
	if u.agentInstalled() {
		if err := u.stopTransient(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	for _, unit := range u.units() {
		if u.isAgentUnit(unit) {
			continue
		}
		if err := u.stop(ctx, m, unit); err != nil {
			errs = append(errs, err)
		}
		if strings.HasSuffix(unit, ".service") {
			if err := u.killLeftovers(ctx, m, unit); err != nil {
				errs = append(errs, err)
			}
		}
	}
	var enabled []string
	for _, unit := range u.units() {
		st, err := m.Status(ctx, unit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Enabled() {
			enabled = append(enabled, unit)
		}
	}
	if len(enabled) > 0 {
		if err := m.Disable(ctx, enabled...); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stop stops a unit that is not inactive and forgets a failed state.
func (u *Uninstall) stop(ctx context.Context, m systemd.Manager, unit string) error {
	st, err := m.Status(ctx, unit)
	if err != nil {
		return err
	}
	if st.ActiveState == systemd.StateFailed {
		return m.ResetFailed(ctx, unit)
	}
	if st.ActiveState == systemd.StateInactive || st.LoadState == "not-found" {
		return nil
	}
	u.d.Log.WithField("unit", unit).Info("stopping")
	if err := m.Stop(ctx, unit); err != nil {
		return err
	}
	if st, err := m.Status(ctx, unit); err == nil && st.ActiveState == systemd.StateFailed {
		return m.ResetFailed(ctx, unit)
	}
	return nil
}

// stopTransient kills what runs in the containers' scopes (SIGKILL: the
// runtime already had its chance) and stops the pods' slices, deepest first.
func (u *Uninstall) stopTransient(ctx context.Context, m systemd.Manager) error {
	tr, err := m.ListUnits(ctx, u.transient()...)
	if err != nil {
		return err
	}
	sort.Slice(tr, func(i, j int) bool { return len(tr[i].Name) > len(tr[j].Name) })
	var errs []error
	for _, t := range tr {
		if t.ActiveState == systemd.StateInactive {
			continue
		}
		if strings.HasSuffix(t.Name, ".scope") {
			_ = m.Kill(ctx, t.Name, syscall.SIGKILL) // gone already is fine
		}
		if err := m.Stop(ctx, t.Name); err != nil {
			if st, serr := m.Status(ctx, t.Name); serr == nil && (st.LoadState == "not-found" || st.ActiveState == systemd.StateInactive) {
				continue // it went away with its parent
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// killLeftovers sends SIGKILL to every process left in a stopped service's
// cgroup: containerd's and dockerd's shims outlive their daemon.
func (u *Uninstall) killLeftovers(ctx context.Context, m systemd.Manager, unit string) error {
	err := m.Kill(ctx, unit, syscall.SIGKILL)
	if err == nil || !u.d.Live {
		return nil // systemd refuses for a unit without processes
	}
	// systemd did not: go through the cgroup file system ourselves.
	pids := cgroupPIDs(unit)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if len(pids) > 0 {
		u.d.Log.WithFields(logrus.Fields{"unit": unit, "processes": len(pids)}).Info("killed leftover processes")
	}
	return nil
}

// cgroupPIDs lists the processes in a system service's cgroup and below, in
// whichever hierarchy this host has (v2, hybrid or v1's name=systemd).
func cgroupPIDs(unit string) []int {
	seen := map[int]bool{}
	var out []int
	for _, base := range []string{"/sys/fs/cgroup/system.slice", "/sys/fs/cgroup/unified/system.slice", "/sys/fs/cgroup/systemd/system.slice"} {
		dir := filepath.Join(base, unit)
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					out = append(out, pid)
				}
			}
			return nil
		})
	}
	return out
}
