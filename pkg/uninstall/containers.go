package uninstall

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
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// k8sNamespace is containerd's namespace of the CRI (the kubelet's pods).
const k8sNamespace = "k8s.io"

// criKindLabel tells the CRI's sandboxes ("sandbox") from containers.
const criKindLabel = "io.cri-containerd.kind"

// ContainerRemover removes the Kubernetes containers and sandboxes of a
// runtime through its API, so the runtime unmounts their root filesystems
// and releases their snapshots itself.
type ContainerRemover interface {
	// List names the containers (sandboxes included) there are.
	List(ctx context.Context) ([]string, error)
	// RemoveAll kills and removes them, returning how many it removed.
	RemoveAll(ctx context.Context) (int, error)
}

// ErrRuntimeDown says the runtime's socket does not exist: nothing answers.
var ErrRuntimeDown = errors.New("the runtime is not running (no socket)")

func (u *Uninstall) containers(kind string) ContainerRemover {
	if u.d.Containers != nil {
		return u.d.Containers(kind)
	}
	switch kind {
	case config.RuntimeContainerd:
		return &containerdRemover{socket: u.d.Root.Path(paths.ContainerdSocket)}
	case config.RuntimeDocker:
		return &dockerRemover{socket: u.d.Root.Path(paths.DockerSocket)}
	}
	return nil
}

// containerdRemover speaks to containerd in the k8s.io namespace.
type containerdRemover struct{ socket string }

func (r *containerdRemover) client() (*client.Client, error) {
	if _, err := os.Stat(r.socket); err != nil {
		return nil, ErrRuntimeDown
	}
	c, err := client.New(r.socket, client.WithDefaultNamespace(k8sNamespace), client.WithTimeout(3*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd on %s: %w", r.socket, err)
	}
	return c, nil
}

func (r *containerdRemover) List(ctx context.Context) ([]string, error) {
	c, err := r.client()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	cs, err := c.Containers(ctx)
	if err != nil {
		return nil, fmt.Errorf("containerd: list containers: %w", err)
	}
	ids := make([]string, 0, len(cs))
	for _, ctr := range cs {
		ids = append(ids, ctr.ID())
	}
	return ids, nil
}

// RemoveAll kills each container's task (SIGKILL to its init process:
// the rest of its PID namespace dies with it), waits for it to exit,
// deletes the task, then the container with its snapshot. Each container
// gets its own deadline, so one that hangs does not keep the others.
func (r *containerdRemover) RemoveAll(ctx context.Context) (int, error) {
	c, err := r.client()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	cs, err := c.Containers(ctx)
	if err != nil {
		return 0, fmt.Errorf("containerd: list containers: %w", err)
	}
	// Sandboxes last: a pod's shim serves all its containers and exits
	// when its sandbox's task is deleted, stranding the others.
	sandbox := map[string]bool{}
	for _, ctr := range cs {
		if l, err := ctr.Labels(ctx); err == nil && l[criKindLabel] == "sandbox" {
			sandbox[ctr.ID()] = true
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return !sandbox[cs[i].ID()] && sandbox[cs[j].ID()] })
	var errs []error
	n := 0
	for _, ctr := range cs {
		if err := removeContainer(ctx, ctr); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// perContainer bounds the removal of one container.
const perContainer = 10 * time.Second

func removeContainer(parent context.Context, ctr client.Container) error {
	ctx, cancel := context.WithTimeout(parent, perContainer)
	defer cancel()
	task, err := ctr.Task(ctx, nil)
	switch {
	case err == nil:
		exited, werr := task.Wait(ctx)
		if err := task.Kill(ctx, syscall.SIGKILL); err == nil && werr == nil {
			select {
			case <-exited:
			case <-ctx.Done():
				return fmt.Errorf("containerd: container %s did not exit after SIGKILL: %w", ctr.ID(), ctx.Err())
			}
		}
		if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) && !taskGone(ctx, ctr) {
			return fmt.Errorf("containerd: delete task %s: %w", ctr.ID(), err)
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("containerd: task of %s: %w", ctr.ID(), err)
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: delete container %s: %w", ctr.ID(), err)
	}
	return nil
}

// dockerRemover speaks dockerd's HTTP API on its socket; the kubelet's
// containers (dockershim and cri-dockerd alike) are named k8s_*.
type dockerRemover struct{ socket string }

func (r *dockerRemover) http() (*http.Client, error) {
	if _, err := os.Stat(r.socket); err != nil {
		return nil, ErrRuntimeDown
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", r.socket)
		},
	}}, nil
}

func (r *dockerRemover) List(ctx context.Context) ([]string, error) {
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
func (r *dockerRemover) RemoveAll(ctx context.Context) (int, error) {
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

// taskGone waits briefly for containerd to drop a container's task itself:
// when the pod's shim exits with its last task, deleting the task fails
// ("ttrpc: closed") while containerd cleans it up on its own.
func taskGone(ctx context.Context, ctr client.Container) bool {
	for i := 0; i < 30; i++ {
		if _, err := ctr.Task(ctx, nil); errdefs.IsNotFound(err) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}
