package docker

import (
	"bytes"
	"fmt"
	"path"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/registry"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// CertsDir is where dockerd looks for a registry's (or a mirror's) CA:
// <host:port>/ca.crt, read at each pull.
const CertsDir = "/etc/docker/certs.d"

// CAPath is the CA file of the mirror at hostPort.
func CAPath(hostPort string) string { return path.Join(CertsDir, hostPort, "ca.crt") }

// caHeader starts every CA install copies: PEM allows text before the
// first certificate, and dockerd's reader skips it. A ca.crt without it is
// the operator's and is never removed.
const caHeader = "# Copied by add2tkectl from "

// caSweep finds the CA of a mirror the site no longer lists.
var caSweep = binary.Sweep{
	Glob: CertsDir + "/*/ca.crt",
	Mine: func(b []byte) bool { return bytes.HasPrefix(b, []byte(caHeader)) },
}

// Mirrors is what dockerd gets of the site's registries.
type Mirrors struct {
	// Mirrors are registry-mirrors: Docker Hub's mirrors, in order.
	Mirrors []string
	// Insecure are insecure-registries: the host:port of each mirror that
	// is plain HTTP or not verified.
	Insecure []string
	// Files are the mirrors' CAs, by host path.
	Files map[string]host.File
	// Warnings name the registries dockerd cannot mirror.
	Warnings []string
}

// SiteMirrors maps the site's registries onto dockerd. dockerd mirrors
// Docker Hub only (registry-mirrors has no upstream): the mirrors of any
// other registry are left out with a warning, and that registry's images
// are pulled from it directly, rather than refusing a site file that
// containerd pools of the same site use as it is.
func SiteMirrors(root host.Root, s *site.Settings) (Mirrors, error) {
	out := Mirrors{Files: map[string]host.File{}}
	ups, err := registry.Upstreams(root, s)
	if err != nil {
		return out, err
	}
	seen := map[string]bool{}
	for _, u := range ups {
		if !u.DockerHub() {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: registries[%d] (%s) is not mirrored on this docker host: dockerd mirrors only docker.io (registry-mirrors), so %s's images are pulled from %s itself; use containerd for mirrors of other registries", site.Path, u.Index, u.Name, u.Name, u.Server))
			continue
		}
		for _, m := range u.Mirrors {
			out.Mirrors = append(out.Mirrors, m.URL)
			if (m.PlainHTTP || m.InsecureSkipVerify) && !seen[m.Host] {
				seen[m.Host] = true
				out.Insecure = append(out.Insecure, m.Host)
			}
			if m.CA != nil {
				p := CAPath(m.Host)
				data := append([]byte(caHeader+m.CAFile+" for the mirror "+m.URL+"; a re-run of install overwrites changes.\n"), m.CA...)
				if old, dup := out.Files[p]; dup && !bytes.Equal(old.Data, data) {
					return out, fmt.Errorf("%s: two mirrors on %s name different CA files: dockerd keeps one CA per host:port", site.Path, m.Host)
				}
				out.Files[p] = host.File{Data: data, Mode: 0o644}
			}
		}
	}
	return out, nil
}
