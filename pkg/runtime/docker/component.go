package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// KeyVersion is the journal fact of the docker version installed.
const KeyVersion = "docker.version"

// Runtime is docker (with cri-dockerd) as a component: what status and
// uninstall find of it.
var Runtime component.Runtime = runtimeComponent{}

type runtimeComponent struct{}

func (runtimeComponent) Name() string { return Component }

func (runtimeComponent) Installer(d component.Deps, capSysResource func() (bool, error)) component.Installer {
	return Deps{Deps: d, CapSysResource: capSysResource}.installer()
}

func (runtimeComponent) Kind() string { return config.RuntimeDocker }

func (runtimeComponent) Footprint() component.Footprint {
	return component.Footprint{
		Units: []component.Unit{
			{Name: CRIDockerdSocketU, Stop: component.StopShimSocket, Products: []string{CRIDockerdSocket}},
			{Name: DockerSocket, Stop: component.StopRuntimeSocket, Products: []string{paths.DockerSocket}},
			{Name: CRIDockerdService, Stop: component.StopShim, Products: []string{"/var/lib/cri-dockerd"}},
			{Name: DockerService, Stop: component.StopRuntime, Products: []string{
				"/run/docker", "/run/docker.pid", "/etc/docker/key.json",
				"/run/containerd", "/opt/containerd", // dockerd's containerd
			}},
		},
		VersionFact: KeyVersion,
		MountTrees:  []string{"/run/docker", "/run/containerd"},
		Transient:   []string{"docker-*.scope"},
	}
}

func (runtimeComponent) DefaultDataDir() string { return config.DefaultDataDir(config.RuntimeDocker) }

// OwnsDataEntry lists what dockerd (and cri-dockerd) put in data-root.
func (runtimeComponent) OwnsDataEntry(name string) bool {
	switch name {
	case "builder", "buildkit", "containerd", "containers", "engine-id", "image", "network",
		"overlay2", "plugins", "runtimes", "swarm", "tmp", "trust", "volumes", "aufs", "btrfs",
		"devicemapper", "vfs", "zfs", "fuse-overlayfs", "cri-dockerd":
		return true
	}
	return false
}

func (runtimeComponent) Containers(root host.Root) component.ContainerRemover {
	return &remover{socket: root.Path(paths.DockerSocket)}
}

// Probe asks dockerd's /version on its socket, which proves it answers.
func (runtimeComponent) Probe(ctx context.Context, root host.Root) component.Probe {
	p := component.Probe{Endpoint: paths.DockerSocket}
	v, err := Version(ctx, root.Path(paths.DockerSocket))
	if err != nil {
		p.Error = err.Error()
		return p
	}
	p.Healthy, p.Version = true, v
	return p
}

// unixClient is an HTTP client of dockerd's API on socket.
func unixClient(socket string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

// Version asks dockerd's /version on socket.
func Version(ctx context.Context, socket string) (string, error) {
	c := unixClient(socket, 0)
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", fmt.Errorf("dockerd on %s: %w", socket, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dockerd /version: %s", resp.Status)
	}
	var v struct{ Version string }
	if err := json.Unmarshal(b, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("dockerd /version: no version in the answer")
	}
	return v.Version, nil
}

// remover speaks dockerd's HTTP API on its socket; the kubelet's
// containers (dockershim and cri-dockerd alike) are named k8s_*.
type remover struct{ socket string }

func (r *remover) http() (*http.Client, error) {
	if _, err := os.Stat(r.socket); err != nil {
		return nil, component.ErrRuntimeDown
	}
	return unixClient(r.socket, 30*time.Second), nil
}

func (r *remover) List(ctx context.Context) ([]string, error) {
	hc, err := r.http()
	if err != nil {
		return nil, err
	}
	defer hc.CloseIdleConnections()
	filters := url.QueryEscape(`{"name":["k8s_"]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/containers/json?all=1&filters="+filters, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("docker: list containers: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var cs []struct {
		ID    string   `json:"Id"`
		Names []string `json:"Names"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	var ids []string
	for _, c := range cs {
		for _, n := range c.Names {
			if strings.HasPrefix(strings.TrimPrefix(n, "/"), "k8s_") {
				ids = append(ids, c.ID)
				break
			}
		}
	}
	return ids, nil
}

// RemoveAll force-removes each container with its anonymous volumes.
func (r *remover) RemoveAll(ctx context.Context) (int, error) {
	ids, err := r.List(ctx)
	if err != nil {
		return 0, err
	}
	hc, err := r.http()
	if err != nil {
		return 0, err
	}
	defer hc.CloseIdleConnections()
	var errs []error
	n := 0
	for _, id := range ids {
		req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://docker/containers/"+url.PathEscape(id)+"?force=1&v=1", nil)
		if err != nil {
			return n, err
		}
		resp, err := hc.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("docker: remove %s: %w", id, err))
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotFound {
			errs = append(errs, fmt.Errorf("docker: remove %s: %s: %s", id, resp.Status, strings.TrimSpace(string(b))))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
