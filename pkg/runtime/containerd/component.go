package containerd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// KeyVersion is the journal fact of the containerd version installed.
const KeyVersion = "containerd.version"

// Runtime is containerd as a component: what status and uninstall find of it.
var Runtime component.Runtime = runtimeComponent{}

type runtimeComponent struct{}

func (runtimeComponent) Name() string { return Component }

func (runtimeComponent) Installer(d component.Deps, capSysResource func() (bool, error)) component.Installer {
	return Deps{Deps: d, CapSysResource: capSysResource}.installer()
}

func (runtimeComponent) Kind() string { return config.RuntimeContainerd }

func (runtimeComponent) Footprint() component.Footprint {
	return component.Footprint{
		Units: []component.Unit{{
			Name: UnitName, Stop: component.StopRuntime,
			// Sockets, shims' state, sandbox shm; the "opt" plugin's dir;
			// containerd 2's NRI socket (its dir goes when left empty).
			Products: []string{StateDir, "/opt/containerd", "/run/nri/nri.sock"},
		}},
		VersionFact: KeyVersion,
		// Everything in its state dir (sandbox shm, rootfs mounts) is its own.
		MountTrees: []string{StateDir},
		// The containers' scopes under the systemd cgroup driver.
		Transient: []string{"cri-containerd-*.scope"},
	}
}

func (runtimeComponent) DefaultDataDir() string {
	return config.DefaultDataDir(config.RuntimeContainerd)
}

// OwnsDataEntry: containerd names its plugins' dirs io.containerd.*.
func (runtimeComponent) OwnsDataEntry(name string) bool {
	return strings.HasPrefix(name, "io.containerd.") || name == "tmpmounts"
}

func (runtimeComponent) Containers(root host.Root) component.ContainerRemover {
	return &remover{socket: root.Path(paths.ContainerdSocket)}
}

// Probe asks containerd on its socket for its version, which proves it
// answers.
func (runtimeComponent) Probe(ctx context.Context, root host.Root) component.Probe {
	p := component.Probe{Endpoint: paths.ContainerdSocket}
	sock := root.Path(paths.ContainerdSocket)
	// containerd's dialer retries a refused socket until its timeout (it
	// waits for a starting daemon); status wants the answer now.
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		p.Error = fmt.Sprintf("containerd does not answer on %s: %v", sock, err)
		return p
	}
	c.Close()
	v, err := Version(ctx, sock)
	if err != nil {
		p.Error = err.Error()
		return p
	}
	p.Healthy, p.Version = true, v
	return p
}

// k8sNamespace is containerd's namespace of the CRI (the kubelet's pods).
const k8sNamespace = "k8s.io"

// criKindLabel tells the CRI's sandboxes ("sandbox") from containers.
const criKindLabel = "io.cri-containerd.kind"

// remover speaks to containerd in the k8s.io namespace.
type remover struct{ socket string }

func (r *remover) client() (*client.Client, error) {
	if _, err := os.Stat(r.socket); err != nil {
		return nil, component.ErrRuntimeDown
	}
	c, err := client.New(r.socket, client.WithDefaultNamespace(k8sNamespace), client.WithTimeout(3*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd on %s: %w", r.socket, err)
	}
	return c, nil
}

func (r *remover) List(ctx context.Context) ([]string, error) {
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
func (r *remover) RemoveAll(ctx context.Context) (int, error) {
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
