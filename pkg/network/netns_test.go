package network

import (
	"net"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// inNewNetns runs fn on a locked thread inside a fresh network namespace,
// so the test can build interfaces and routes without touching the host's.
func inNewNetns(t *testing.T, fn func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to create a network namespace; run the tests as root")
	}
	runtime.LockOSThread()
	// The thread ends up in a namespace we delete: never unlock it, so Go
	// retires the thread instead of reusing it for other goroutines.
	orig, err := netns.Get()
	if err != nil {
		t.Fatalf("current netns: %v", err)
	}
	defer orig.Close()
	ns, err := netns.New() // also switches this thread into it
	if err != nil {
		t.Skipf("cannot create a network namespace here (%v); needs CAP_SYS_ADMIN", err)
	}
	defer ns.Close()
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original netns: %v", err)
		}
	}()
	fn()
}

func mustRun(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func addVeth(t *testing.T, name, peer, cidr string) netlink.Link {
	t.Helper()
	mustRun(t, "add veth "+name, netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peer}))
	for _, n := range []string{name, peer} {
		l, err := netlink.LinkByName(n)
		mustRun(t, "find "+n, err)
		mustRun(t, "up "+n, netlink.LinkSetUp(l))
	}
	l, err := netlink.LinkByName(name)
	mustRun(t, "find "+name, err)
	if cidr != "" {
		addr, err := netlink.ParseAddr(cidr)
		mustRun(t, "parse "+cidr, err)
		mustRun(t, "address "+cidr, netlink.AddrAdd(l, addr))
	}
	return l
}

// A multi-homed host: the default route leaves through the public side, the
// private link to the API server through another interface. The node IP must
// be the private side's address.
func TestNodeIPIsSourceOfRouteToAPIServerNotDefault(t *testing.T) {
	inNewNetns(t, func() {
		pub := addVeth(t, "pub0", "pub0p", "203.0.113.10/24")
		priv := addVeth(t, "priv0", "priv0p", "10.77.0.11/24")

		mustRun(t, "default route", netlink.RouteAdd(&netlink.Route{
			LinkIndex: pub.Attrs().Index,
			Gw:        net.ParseIP("203.0.113.1"),
		}))
		_, vpc, _ := net.ParseCIDR("10.0.0.0/16")
		mustRun(t, "route to the VPC", netlink.RouteAdd(&netlink.Route{
			LinkIndex: priv.Attrs().Index,
			Dst:       vpc,
			Gw:        net.ParseIP("10.77.0.1"),
		}))

		got, err := NodeIP(net.ParseIP("10.0.0.5"))
		mustRun(t, "NodeIP", err)
		if !got.Equal(net.ParseIP("10.77.0.11")) {
			t.Errorf("NodeIP(10.0.0.5) = %s, want 10.77.0.11 (the private link's address, not the default route's 203.0.113.10)", got)
		}
		// The same function follows the default route for anything else,
		// which shows the answer above came from the routing decision.
		got, err = NodeIP(net.ParseIP("198.51.100.7"))
		mustRun(t, "NodeIP", err)
		if !got.Equal(net.ParseIP("203.0.113.10")) {
			t.Errorf("NodeIP(198.51.100.7) = %s, want the default route's 203.0.113.10", got)
		}
	})
}

func TestNodeIPHonoursPreferredSource(t *testing.T) {
	inNewNetns(t, func() {
		priv := addVeth(t, "priv0", "priv0p", "10.77.0.11/24")
		addr, _ := netlink.ParseAddr("10.77.0.12/24")
		mustRun(t, "second address", netlink.AddrAdd(priv, addr))
		_, vpc, _ := net.ParseCIDR("10.0.0.0/16")
		mustRun(t, "route with src", netlink.RouteAdd(&netlink.Route{
			LinkIndex: priv.Attrs().Index,
			Dst:       vpc,
			Gw:        net.ParseIP("10.77.0.1"),
			Src:       net.ParseIP("10.77.0.12"),
		}))
		got, err := NodeIP(net.ParseIP("10.0.0.5"))
		mustRun(t, "NodeIP", err)
		if !got.Equal(net.ParseIP("10.77.0.12")) {
			t.Errorf("NodeIP = %s, want the route's preferred source 10.77.0.12", got)
		}
	})
}

func TestNodeIPWithoutRouteSaysSo(t *testing.T) {
	inNewNetns(t, func() {
		_, err := NodeIP(net.ParseIP("10.0.0.5"))
		if err == nil {
			t.Fatal("NodeIP with no routes at all succeeded")
		}
	})
}

func TestRemoveInterfacesRemovesCNILinksOnly(t *testing.T) {
	inNewNetns(t, func() {
		addVeth(t, "eth0", "eth0p", "10.77.0.11/24")
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "cni0"}}
		mustRun(t, "add cni0", netlink.LinkAdd(br))
		pod := addVeth(t, "vethabc", "vethabcp", "")
		mustRun(t, "enslave", netlink.LinkSetMaster(pod, br))
		addVeth(t, "cilium_host", "cilium_net", "")
		addVeth(t, "lxc12345", "lxc12345p", "")

		got, err := CNILinks()
		mustRun(t, "CNILinks", err)
		slices.Sort(got)
		want := []string{"cilium_host", "cilium_net", "cni0", "lxc12345", "lxc12345p", "vethabc"}
		if !slices.Equal(got, want) {
			t.Fatalf("CNILinks = %v, want %v", got, want)
		}
		mustRun(t, "RemoveInterfaces", RemoveInterfaces(got...))
		mustRun(t, "RemoveInterfaces again", RemoveInterfaces(got...))

		links, err := netlink.LinkList()
		mustRun(t, "list", err)
		var left []string
		for _, l := range links {
			left = append(left, l.Attrs().Name)
		}
		slices.Sort(left)
		if want := []string{"eth0", "eth0p", "lo"}; !slices.Equal(left, want) {
			t.Errorf("after RemoveInterfaces links are %v, want %v", left, want)
		}
	})
}
