package site

import (
	"io/fs"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// DropInName is the file name of the proxy drop-in in a unit's .d
// directory: the proxy reaches a service through it alone, never through
// the global environment (systemctl set-environment, /etc/environment).
const DropInName = "add2tkectl-proxy.conf"

// DropInPath is the host path of unit's proxy drop-in.
func DropInPath(unit string) string { return systemd.DropInPath(unit, DropInName) }

// NodeOf is what the pool and the node IP say must never go through a
// proxy.
func NodeOf(c *config.NodePoolJoin, nodeIP string) Node {
	return Node{APIServerEndpoint: c.Cluster.APIServer.Endpoint, NodeIP: nodeIP, PodCIDR: c.Cluster.Network.PodCIDR}
}

// RenderDropIn renders the drop-in that gives one service the proxy's
// environment (Env with NoProxy's list); nil when no proxy is configured.
func RenderDropIn(p Proxy, n Node) ([]byte, error) {
	env := p.Env(NoProxy(p, n))
	if len(env) == 0 {
		return nil, nil
	}
	var ds []systemd.Directive
	for _, e := range env {
		d, err := systemd.Environment(e.Key, e.Value)
		if err != nil {
			return nil, err
		}
		ds = append(ds, d)
	}
	return systemd.Unit{
		Comment:  []string{"Installed by add2tkectl from the site's proxy settings; a re-run of install overwrites changes."},
		Sections: []systemd.Section{{Name: "Service", Directives: ds}},
	}.Render()
}

// DropIns are the proxy drop-ins of units: by host path when a proxy is
// configured (0600 when its URL carries credentials), or else the paths
// of the drop-ins an earlier install may have left, to remove.
func DropIns(s *Settings, n Node, units ...string) (files map[string]host.File, absent []string, err error) {
	p := ProxyOf(s)
	b, err := RenderDropIn(p, n)
	if err != nil {
		return nil, nil, err
	}
	files = map[string]host.File{}
	mode := fs.FileMode(0o644)
	if p.HasCredentials() {
		mode = 0o600
	}
	for _, u := range units {
		if b == nil {
			absent = append(absent, DropInPath(u))
			continue
		}
		files[DropInPath(u)] = host.File{Data: b, Mode: mode}
	}
	return files, absent, nil
}
