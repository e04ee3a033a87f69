package uninstall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/component"
)

// tree is a directory whose mounts uninstall removes; keepBase keeps the
// mount at the directory itself (a directory install did not create).
type tree struct {
	dir      string // real path (under the root, symlinks resolved)
	keepBase bool
}

// trees are the directories to unmount, from the components the journal
// shows installed: their mount trees (the kubelet's root, the pods'
// network namespaces, cilium's /run/cilium) and, when we installed the
// runtime, its data dir and state dirs. A directory a component owns but
// install did not create keeps its own mount (a data disk).
func (u *Uninstall) trees() []tree {
	var out []tree
	add := func(p string, keepBase bool) {
		out = append(out, tree{dir: u.real(p), keepBase: keepBase})
	}
	rt := u.runtime()
	for _, c := range u.d.Components.All() {
		if _, ok := c.(component.Runtime); ok {
			continue // the one installed comes below, with its data dir
		}
		fp := c.Footprint()
		if !u.unitsInstalled(c) && !u.anyOurs(fp.Owned) {
			continue
		}
		for _, d := range u.expand(fp.MountTrees...) {
			add(d, slices.Contains(fp.Owned, d) && !u.ours(d))
		}
	}
	if rt != nil && len(u.d.Journal.Units()) > 0 {
		if dd := u.dataDir(); dd != "" {
			add(dd, !u.ours(dd))
		}
		for _, d := range u.expand(rt.Footprint().MountTrees...) {
			add(d, false)
		}
	}
	return out
}

// anyOurs reports whether install created one of dirs.
func (u *Uninstall) anyOurs(dirs []string) bool {
	for _, d := range dirs {
		if u.ours(d) {
			return true
		}
	}
	return false
}

func (u *Uninstall) planMounts(context.Context) ([]string, error) {
	var plan []string
	for _, t := range u.trees() {
		ms, err := PlanUnmountTree(t.dir, t.keepBase)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			plan = append(plan, "unmount "+m)
		}
	}
	return plan, nil
}

func (u *Uninstall) runMounts(context.Context) error {
	var errs []error
	// Deepest trees first, so a tree inside another is done before it.
	ts := u.trees()
	sort.SliceStable(ts, func(i, j int) bool { return len(ts[i].dir) > len(ts[j].dir) })
	for _, t := range ts {
		done, err := UnmountTree(t.dir, t.keepBase)
		if len(done) > 0 {
			u.d.Log.WithFields(logrus.Fields{"dir": t.dir, "mounts": len(done)}).Info("unmounted")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unmount under %s: %w", t.dir, err))
		}
	}
	return errors.Join(errs...)
}
