package network

import (
	"errors"
	"fmt"
	"strings"

	"github.com/vishvananda/netlink"
)

// cniLinkNames are the interfaces the pod network (cilium, or a bridge CNI
// used before it) creates on a node.
var cniLinkNames = []string{
	"cilium_host", "cilium_net", "cilium_vxlan", "cilium_geneve", "cilium_wg0",
	"cni0", "flannel.1", "kube-ipvs0", "kube-bridge", "nodelocaldns",
}

// cniLinkPrefixes name per-pod interfaces: cilium's lxc endpoints.
var cniLinkPrefixes = []string{"lxc"}

// CNILinks returns the names of the CNI and cilium interfaces present on the
// host: the well-known ones, cilium's per-pod lxc links, and the veth peers
// enslaved to the cni0 bridge.
func CNILinks() ([]string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	bridges := map[int]bool{}
	for _, l := range links {
		if l.Attrs().Name == "cni0" {
			bridges[l.Attrs().Index] = true
		}
	}
	var out []string
	for _, l := range links {
		a := l.Attrs()
		if isCNIName(a.Name) || (l.Type() == "veth" && bridges[a.MasterIndex]) {
			out = append(out, a.Name)
		}
	}
	return out, nil
}

func isCNIName(name string) bool {
	for _, n := range cniLinkNames {
		if name == n {
			return true
		}
	}
	for _, p := range cniLinkPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// RemoveInterfaces deletes the named interfaces; one already gone is not an
// error, so uninstall can be run again. Deleting one end of a veth pair
// removes its peer too.
func RemoveInterfaces(names ...string) error {
	var errs []error
	for _, name := range names {
		link, err := netlink.LinkByName(name)
		if err != nil {
			var nf netlink.LinkNotFoundError
			if errors.As(err, &nf) {
				continue
			}
			errs = append(errs, fmt.Errorf("find interface %s: %w", name, err))
			continue
		}
		if err := netlink.LinkDel(link); err != nil {
			if _, gone := netlink.LinkByName(name); gone != nil {
				continue // its veth peer went first
			}
			errs = append(errs, fmt.Errorf("delete interface %s: %w (remove it with: ip link delete %s)", name, err, name))
		}
	}
	return errors.Join(errs...)
}
