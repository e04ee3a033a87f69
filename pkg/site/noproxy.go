package site

import (
	"net"
	"net/url"
	"strings"
)

// Node is what a node knows of itself that must never go through a proxy.
type Node struct {
	// APIServerEndpoint is cluster.apiServer.endpoint (https://10.0.0.9:6443).
	APIServerEndpoint string
	// NodeIP is the node's own address.
	NodeIP string
	// PodCIDR is cluster.network.podCIDR.
	PodCIDR string
	// ServiceCIDR is the cluster's service range; empty when the pool does
	// not say it (the pool document has none today).
	ServiceCIDR string
}

// alwaysDirect are the entries every NO_PROXY has: loopback and the
// cluster's own DNS domains.
var alwaysDirect = []string{"localhost", "127.0.0.1", "::1"}

var clusterDomains = []string{".svc", ".cluster.local"}

// NoProxy is the NO_PROXY list of a node: loopback, the API server's host,
// the node IP, the pod CIDR (and the service CIDR when known), the
// cluster's domains .svc and .cluster.local, then the operator's own
// entries. Empty entries are dropped and duplicates (compared without case)
// kept once, in that order, so the list is the same on every run.
func NoProxy(p Proxy, n Node) []string {
	var out []string
	seen := map[string]bool{}
	add := func(e string) {
		e = strings.TrimSpace(e)
		if e == "" || seen[strings.ToLower(e)] {
			return
		}
		seen[strings.ToLower(e)] = true
		out = append(out, e)
	}
	for _, e := range alwaysDirect {
		add(e)
	}
	add(endpointHost(n.APIServerEndpoint))
	add(n.NodeIP)
	add(n.PodCIDR)
	add(n.ServiceCIDR)
	for _, e := range clusterDomains {
		add(e)
	}
	for _, e := range p.NoProxy {
		add(e)
	}
	return out
}

// endpointHost is the host of an endpoint URL (without port or brackets);
// an endpoint without a scheme is taken as host[:port].
func endpointHost(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Hostname()
	}
	if h, _, err := net.SplitHostPort(endpoint); err == nil {
		return h
	}
	return strings.Trim(endpoint, "[]")
}

// EnvVar is one variable of a service's environment.
type EnvVar struct{ Key, Value string }

// Env is the proxy environment a service gets: HTTP_PROXY, HTTPS_PROXY
// (each only when set) and NO_PROXY, each also in lower case, which is
// what some programs read. None when no proxy is configured.
func (p Proxy) Env(noProxy []string) []EnvVar {
	if !p.Enabled() {
		return nil
	}
	var out []EnvVar
	add := func(key, value string) {
		if value != "" {
			out = append(out, EnvVar{key, value}, EnvVar{strings.ToLower(key), value})
		}
	}
	add("HTTP_PROXY", p.HTTP)
	add("HTTPS_PROXY", p.HTTPS)
	add("NO_PROXY", strings.Join(noProxy, ","))
	return out
}

// HasCredentials reports whether a proxy URL carries a user or password,
// which a file holding it must not show to everyone.
func (p Proxy) HasCredentials() bool {
	for _, s := range []string{p.HTTP, p.HTTPS} {
		if u, err := url.Parse(s); err == nil && u.User != nil {
			return true
		}
	}
	return false
}

// ProxyOf is s's proxy; none for a nil s.
func ProxyOf(s *Settings) Proxy {
	if s == nil {
		return Proxy{}
	}
	return s.Proxy
}
