package network

import "net"

// privateNets are the ranges DESIGN section 1 calls private: RFC 1918, the
// carrier-grade NAT range that TKE's private link uses, and IPv6 ULA (fd00::/8,
// the locally assigned half of fc00::/7).
var privateNets = mustCIDRs(
	"10.0.0.0/8",
	"172.16.0.0/12",
	"192.168.0.0/16",
	"100.64.0.0/10",
	"fd00::/8",
)

// IsPrivate reports whether ip is in one of the private ranges the API
// server endpoint must be in.
func IsPrivate(ip net.IP) bool {
	for _, n := range privateNets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func mustCIDRs(cidrs ...string) []*net.IPNet {
	out := make([]*net.IPNet, 0, len(cidrs))
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			panic(err)
		}
		out = append(out, n)
	}
	return out
}
