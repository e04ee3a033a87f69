package kubelet

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// KeyVersion is the journal fact of the Kubernetes version of the kubelet
// installed.
const KeyVersion = "kubelet.version"

// Agent is the kubelet as a component: what status and uninstall find of
// it. The zero value asks the real kubelet.
type Agent struct {
	// HealthzURL is the kubelet's health endpoint; "" means HealthzURL.
	HealthzURL string
	// Version asks the installed binary (a real path) for its version;
	// nil takes it from install's stamp and manifest while the binary is
	// the one install put there, and runs it with --version otherwise.
	Version func(ctx context.Context, binary string) (string, error)
}

var _ component.Agent = Agent{}

func (Agent) Name() string { return Component }

func (Agent) Footprint() component.Footprint {
	return component.Footprint{
		Units: []component.Unit{{
			Name: UnitName, Stop: component.StopAgent,
			Products: []string{
				paths.KubeletKubeconfig,                // written at TLS bootstrap
				"/var/log/pods", "/var/log/containers", // the pods' logs
				"/usr/libexec/kubernetes/kubelet-plugins", // flex volume plugin dir
				"/var/lib/cni",     // CNI IPAM and the runtime's libcni cache
				"/run/cilium",      // the cilium agent's state (a pod of this node)
				"/run/netns/cni-*", // the pods' network namespaces
				// dockershim's socket and sandbox checkpoints: the kubelet's
				// own below 1.24, cri-dockerd's after.
				"/run/dockershim.sock", "/var/lib/dockershim",
			},
		}},
		VersionFact: KeyVersion,
		MountTrees:  []string{RootDir, "/run/cilium", "/run/netns/cni-*"},
		// The kubelet's root may be a data disk's mount point: what is in
		// it (pods' volumes, plugins' state) is the kubelet's all the same.
		Owned:      []string{RootDir},
		Transient:  []string{"kubepods*.slice"},
		PodNetwork: true,
	}
}

// Probe asks the kubelet's /healthz and the installed binary's version at
// once.
func (a Agent) Probe(ctx context.Context, root host.Root) component.Probe {
	url := a.HealthzURL
	if url == "" {
		url = HealthzURL
	}
	version := a.Version
	if version == nil {
		version = func(ctx context.Context, binary string) (string, error) {
			if v, ok := stampedVersion(root); ok {
				return v, nil
			}
			return execVersion(ctx, binary)
		}
	}
	p := component.Probe{Endpoint: url}
	var (
		wg     sync.WaitGroup
		health error
		verErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.Version, verErr = version(ctx, root.Path(BinaryPath))
	}()
	health = Healthy(ctx, url)
	wg.Wait()
	switch {
	case health != nil:
		p.Error = health.Error()
	case verErr != nil:
		p.Error = "version: " + verErr.Error()
	}
	p.Healthy = health == nil
	return p
}

// execVersion runs `binary --version` ("Kubernetes v1.35.4") and returns
// the version word.
func execVersion(ctx context.Context, binary string) (string, error) {
	if _, err := os.Stat(binary); err != nil {
		return "", fmt.Errorf("kubelet binary: %w", err)
	}
	out, err := exec.CommandContext(ctx, binary, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", binary, err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "", fmt.Errorf("%s --version printed nothing", binary)
	}
	return f[len(f)-1], nil
}
