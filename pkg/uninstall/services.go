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

	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// transientPatterns are the units systemd makes for the kubelet's pods (the
// systemd cgroup driver): its QoS and pod slices and the runtimes' container
// scopes. They exist only while the kubelet we installed ran pods.
var transientPatterns = []string{"kubepods*.slice", "cri-containerd-*.scope", "docker-*.scope"}

// containersTimeout bounds removing the containers through the runtime;
// what is left then goes with the cgroups.
const containersTimeout = time.Minute

func (u *Uninstall) planPods(ctx context.Context) ([]string, error) {
	plan := firstboot.Plan(u.d.Root.Dir)
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
	if u.hasUnit(kubelet.UnitName) {
		tr, err := m.ListUnits(ctx, transientPatterns...)
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
	// The first-boot unit first: a retry of it would install again.
	errs := []error{firstboot.Remove(ctx, u.d.Root.Dir, u.systemd)}
	if u.hasUnit(kubelet.UnitName) {
		if err := u.stop(ctx, m, kubelet.UnitName); err != nil {
			errs = append(errs, err)
		}
	}
	if kind := u.runtimeKind(); kind != "" {
		if r := u.containers(kind); r != nil {
			cctx, cancel := context.WithTimeout(ctx, containersTimeout)
			n, err := r.RemoveAll(cctx)
			cancel()
			switch {
			case errors.Is(err, ErrRuntimeDown):
				u.d.Log.WithField("runtime", kind).Info("the runtime is not running: its containers go with their cgroups")
			case err != nil:
				u.warn("pods", "removing containers through %s: %v; what is left is killed with its cgroup", kind, err)
			case n > 0:
				u.d.Log.WithField("runtime", kind).Infof("removed %d containers and sandboxes", n)
			}
		}
	}
	if u.hasUnit(kubelet.UnitName) {
		if err := u.stopTransient(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	for _, unit := range u.units() {
		if unit == kubelet.UnitName {
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
	tr, err := m.ListUnits(ctx, transientPatterns...)
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
		u.d.Log.WithField("unit", unit).Infof("killed %d leftover processes", len(pids))
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
