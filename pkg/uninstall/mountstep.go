package uninstall

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
)

// tree is a directory whose mounts uninstall removes; keepBase keeps the
// mount at the directory itself (a directory install did not create).
type tree struct {
	dir      string // real path (under the root, symlinks resolved)
	keepBase bool
}

// runStateDirs are the runtimes' state directories under /run; everything
// in them (sandbox shm, container rootfs mounts) is the runtime's.
var runStateDirs = map[string][]string{
	config.RuntimeContainerd: {containerd.StateDir},
	config.RuntimeDocker:     {"/run/docker", "/run/containerd"},
}

// trees are the directories to unmount, from the journal: the kubelet's
// root when we installed the kubelet, the runtime's data dir and state
// dirs when we installed the runtime, the pods' network namespaces
// (/run/netns/cni-*) and cilium's /run/cilium.
func (u *Uninstall) trees() []tree {
	var out []tree
	add := func(p string, keepBase bool) {
		out = append(out, tree{dir: u.real(p), keepBase: keepBase})
	}
	if u.hasUnit(kubelet.UnitName) || u.ours(kubelet.RootDir) {
		add(kubelet.RootDir, !u.ours(kubelet.RootDir))
		add("/run/cilium", false)
		netns, _ := filepath.Glob(u.d.Root.Path("/run/netns/cni-*"))
		for _, n := range netns {
			out = append(out, tree{dir: n})
		}
	}
	if kind := u.runtimeKind(); kind != "" && len(u.d.Journal.Units()) > 0 {
		if dd := u.dataDir(); dd != "" {
			add(dd, !u.ours(dd))
		}
		for _, d := range runStateDirs[kind] {
			add(d, false)
		}
	}
	return out
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
			u.d.Log.WithField("dir", t.dir).Infof("unmounted %d mounts", len(done))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("unmount under %s: %w", t.dir, err))
		}
	}
	return errors.Join(errs...)
}
