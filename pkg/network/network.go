// Package network answers the host's network questions through netlink:
// which address this node talks to the API server from, whether an address
// is private, and which CNI interfaces uninstall has to remove.
package network

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// ErrNoRoute means the kernel has no route to the API server.
var ErrNoRoute = errors.New("no route")

// NodeIP returns the source address the kernel picks for traffic to the API
// server: the address the node is reachable at over the private link, which
// on a multi-homed host is often not the default route's.
func NodeIP(apiServerIP net.IP) (net.IP, error) {
	if apiServerIP == nil {
		return nil, fmt.Errorf("node IP: no API server address given")
	}
	routes, err := netlink.RouteGet(apiServerIP)
	if err != nil {
		return nil, fmt.Errorf("node IP: route to %s: %w (check that this host has a route over the private link to the API server)", apiServerIP, errors.Join(ErrNoRoute, err))
	}
	for _, r := range routes {
		if r.Src != nil && !r.Src.IsUnspecified() {
			return r.Src, nil
		}
	}
	// A route without a preferred source: fall back to the first global
	// address of the outgoing interface, of the same family.
	for _, r := range routes {
		if ip, err := linkAddress(r.LinkIndex, apiServerIP.To4() != nil); err == nil {
			return ip, nil
		}
	}
	return nil, fmt.Errorf("node IP: the route to %s has no source address: %w (give the interface that reaches the API server an address)", apiServerIP, ErrNoRoute)
}

func linkAddress(index int, v4 bool) (net.IP, error) {
	link, err := netlink.LinkByIndex(index)
	if err != nil {
		return nil, err
	}
	family := netlink.FAMILY_V6
	if v4 {
		family = netlink.FAMILY_V4
	}
	addrs, err := netlink.AddrList(link, family)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if a.IP.IsGlobalUnicast() {
			return a.IP, nil
		}
	}
	return nil, ErrNoRoute
}
