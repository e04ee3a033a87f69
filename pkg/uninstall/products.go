package uninstall

import (
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/docker"
)

// products are the paths a service we installed creates while it runs,
// which the journal cannot list (install did not write them). They are
// removed only when the journal lists the unit that made them. Each is
// the service's alone: its credentials, state, logs and sockets.
var products = map[string][]string{
	kubelet.UnitName: {
		paths.KubeletKubeconfig,                // written at TLS bootstrap
		"/var/log/pods", "/var/log/containers", // the pods' logs
		"/usr/libexec/kubernetes/kubelet-plugins", // flex volume plugin dir
		"/var/lib/cni", // CNI IPAM and the runtime's libcni cache
		"/run/cilium",  // the cilium agent's state (a pod of this node)
	},
	containerd.UnitName: {
		containerd.StateDir, // sockets, shims' state, sandbox shm
		"/opt/containerd",   // containerd's "opt" plugin
	},
	docker.DockerService: {
		"/run/docker", "/run/docker.pid", "/etc/docker/key.json",
		"/run/containerd", "/opt/containerd", // dockerd's containerd
	},
	docker.DockerSocket:      {paths.DockerSocket},
	docker.CRIDockerdService: {"/var/lib/cri-dockerd", "/var/lib/dockershim"},
	docker.CRIDockerdSocketU: {docker.CRIDockerdSocket},
}

// runtimeData reports whether an entry of a data directory that install
// did not create belongs to the runtime: only those are removed, so a data
// dir pointed at a disk holding other things loses nothing else.
func runtimeData(kind, name string) bool {
	switch kind {
	case config.RuntimeContainerd:
		return strings.HasPrefix(name, "io.containerd.") || name == "tmpmounts"
	case config.RuntimeDocker:
		switch name {
		case "builder", "buildkit", "containerd", "containers", "engine-id", "image", "network",
			"overlay2", "plugins", "runtimes", "swarm", "tmp", "trust", "volumes", "aufs", "btrfs",
			"devicemapper", "vfs", "zfs", "fuse-overlayfs", "cri-dockerd":
			return true
		}
	}
	return false
}

// protected are directories of the system that uninstall never removes,
// whatever a (damaged) journal says, and where pruning empty parents stops.
var protected = map[string]bool{}

func init() {
	for _, p := range []string{
		"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/media", "/mnt",
		"/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var",
		"/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/include", "/usr/share", "/usr/src",
		"/usr/local", "/usr/local/bin", "/usr/local/sbin", "/usr/local/lib", "/usr/local/share", "/usr/local/etc",
		"/usr/local/include", "/usr/local/src",
		"/var/lib", "/var/cache", "/var/log", "/var/run", "/var/tmp", "/var/spool", "/var/mail", "/var/opt",
		"/var/local", "/var/backups",
		"/etc/systemd", "/etc/systemd/system", "/etc/modules-load.d", "/etc/sysctl.d", "/etc/default",
		"/etc/systemd/system/multi-user.target.wants",
		"/run/netns", "/var/run/netns",
	} {
		protected[p] = true
	}
}
