package uninstall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/network"
)

// The journal keys of the host phase (pkg/host) that uninstall looks at.
const (
	keyHostSysctl  = "host.sysctl."
	keyHostSwapOff = "host.swapoff"
	fstabMarker    = "#add2tkectl-swapoff# "
)

func (u *Uninstall) planNetwork(ctx context.Context) ([]string, error) {
	if !u.d.Live || !u.hasUnit(kubelet.UnitName) {
		return nil, nil
	}
	var plan []string
	links, err := network.CNILinks()
	if err != nil {
		return nil, err
	}
	for _, l := range links {
		plan = append(plan, "delete interface "+l)
	}
	chains, err := PlanIPTablesChains(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range chains {
		plan = append(plan, "delete iptables chain "+c)
	}
	return plan, nil
}

// runNetwork removes the pod network's interfaces (deleting a veth removes
// its peer) and the chains kubelet, kube-proxy and cilium made. Only on a
// host where we installed the kubelet: those chains were its.
func (u *Uninstall) runNetwork(ctx context.Context) error {
	links, err := network.CNILinks()
	if err != nil {
		return err
	}
	var errs []error
	if err := network.RemoveInterfaces(links...); err != nil {
		errs = append(errs, err)
	} else if len(links) > 0 {
		u.d.Log.WithField("interfaces", links).Info("network interfaces deleted")
	}
	removed, err := RemoveIPTablesChains(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w; list what is left with `iptables-save | grep -E 'KUBE-|CILIUM|CNI-'`", err))
	}
	if len(removed) > 0 {
		u.d.Log.WithField("chains", removed).Info("iptables chains deleted")
	}
	return errors.Join(errs...)
}

func (u *Uninstall) settings() *host.Settings {
	plugin := ""
	if u.d.Config != nil {
		plugin = u.d.Config.Cluster.Network.Plugin
	}
	s := host.NewSettings(u.d.Root, plugin)
	s.Live = u.d.Live
	s.Log = u.d.Log
	return s
}

func (u *Uninstall) planHost(context.Context) ([]string, error) {
	var plan []string
	for _, p := range []string{host.ModulesLoadFile, host.SysctlFile} {
		if _, err := os.Lstat(u.d.Root.Path(p)); err == nil {
			plan = append(plan, "remove "+p)
		}
	}
	ours := map[string]string{}
	for _, kv := range append(append([]host.Sysctl(nil), host.KubeletSysctls...), u.settings().Sysctls...) {
		ours[kv.Key] = kv.Value
	}
	values := u.d.Journal.Values()
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key, ok := strings.CutPrefix(k, keyHostSysctl)
		if !ok {
			continue
		}
		cur, present, err := u.d.Root.ReadSysctl(key)
		if err != nil {
			return nil, err
		}
		if want, known := ours[key]; present && cur != values[k] && (!known || cur == want) {
			plan = append(plan, fmt.Sprintf("set %s back to %s", key, values[k]))
		}
	}
	if b, err := os.ReadFile(u.d.Root.Path(host.Fstab)); err == nil && bytes.Contains(b, []byte(fstabMarker)) {
		plan = append(plan, "restore the swap lines of "+host.Fstab)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, ok := values[keyHostSwapOff]; ok && u.d.Live && len(plan) > 0 {
		plan = append(plan, "turn swap on again (swapon -a)")
	}
	return plan, nil
}

// runHost undoes the host phase from the journal's facts (pkg/host owns how).
func (u *Uninstall) runHost(ctx context.Context) error {
	return u.settings().Revert(ctx, u.d.Journal.Values())
}
