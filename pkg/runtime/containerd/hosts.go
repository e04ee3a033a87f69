package containerd

import (
	"bytes"
	"fmt"
	"path"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/registry"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// CertsDir is the CRI's registry config_path: one <registry>/hosts.toml
// per registry of the site. config.toml always points there, so adding or
// removing a mirror never changes config.toml: containerd reads a
// registry's hosts.toml at each pull, and a mirror change restarts nothing.
const CertsDir = "/etc/containerd/certs.d"

// HostsPath is the hosts.toml of registry upstream (docker.io,
// harbor.example.com:8443).
func HostsPath(upstream string) string { return path.Join(CertsDir, upstream, "hosts.toml") }

// hostsHeader starts every hosts.toml install writes; a file without it is
// the operator's and is never removed.
const hostsHeader = "# Rendered by add2tkectl from the site's registries (" + site.Path + "); a re-run of install overwrites changes.\n"

// hostsSweep finds the hosts.toml of a registry the site no longer lists.
var hostsSweep = binary.Sweep{
	Glob: CertsDir + "/*/hosts.toml",
	Mine: func(b []byte) bool { return bytes.HasPrefix(b, []byte(hostsHeader)) },
}

// RenderHosts renders the hosts.toml of one registry: its own server last,
// each mirror before it, in the site's order, trusted to pull and resolve
// (a private mirror), with its CA or no verification as the site says.
func RenderHosts(u registry.Upstream) ([]byte, error) {
	if len(u.Mirrors) == 0 {
		return nil, fmt.Errorf("registry %s: no mirror to render", u.Name)
	}
	var b strings.Builder
	b.WriteString(hostsHeader)
	fmt.Fprintf(&b, "server = %s\n", tomlString(u.Server))
	for _, m := range u.Mirrors {
		fmt.Fprintf(&b, "\n[host.%s]\n", tomlString(m.URL))
		b.WriteString("  capabilities = [\"pull\", \"resolve\"]\n")
		if m.CAFile != "" {
			fmt.Fprintf(&b, "  ca = %s\n", tomlString(m.CAFile))
		}
		if m.InsecureSkipVerify {
			b.WriteString("  skip_verify = true\n")
		}
	}
	return []byte(b.String()), nil
}

// hostsFiles renders a hosts.toml for every registry of the site.
func hostsFiles(root host.Root, s *site.Settings) (map[string]host.File, error) {
	ups, err := registry.Upstreams(root, s)
	if err != nil {
		return nil, err
	}
	files := map[string]host.File{}
	for _, u := range ups {
		b, err := RenderHosts(u)
		if err != nil {
			return nil, err
		}
		files[HostsPath(u.Name)] = host.File{Data: b, Mode: 0o644}
	}
	return files, nil
}
