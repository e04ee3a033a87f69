package uninstall

import (
	"context"
	"errors"
	"fmt"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/network"
)

func (u *Uninstall) planNetwork(ctx context.Context) ([]string, error) {
	if !u.d.Live || !u.podNetwork() {
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

// podNetwork reports whether an installed component's pods made network
// interfaces and iptables chains (the kubelet's).
func (u *Uninstall) podNetwork() bool {
	for _, c := range u.d.Components.All() {
		if c.Footprint().PodNetwork && u.unitsInstalled(c) {
			return true
		}
	}
	return false
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

// planHost lists what reverting the host phase would do (pkg/host owns how).
func (u *Uninstall) planHost(context.Context) ([]string, error) {
	return u.settings().RevertPlan(u.d.Journal.Values())
}

// runHost undoes the host phase from the journal's facts (pkg/host owns how).
func (u *Uninstall) runHost(ctx context.Context) error {
	return u.settings().Revert(ctx, u.d.Journal.Values())
}
