// Package paths is the one home of the host paths that more than one
// package needs, in the spirit of kubeadm's constants: add2tkectl's own
// state, cache, log and lock, and the two paths the node's components
// share (the kubelet's kubeconfig, which join and the user script read,
// and the runtimes' sockets, which the kubelet and the image import dial).
// A path only one component uses stays in that component's package.
package paths

const (
	// StateDir holds the journal, the stamps and the verified manifest;
	// uninstall removes it last.
	StateDir = "/var/lib/add2tkectl"
	// JournalPath is the state journal: what install did, for status and
	// uninstall.
	JournalPath = StateDir + "/state.json"
	// StampDir holds one stamp per component (what it installed from what).
	StampDir = StateDir + "/stamps"
	// ToolsDir holds the tools install puts there for the user script
	// (kubectl): first on its PATH, and never a directory of the operator's
	// own, whose kubectl install would overwrite and uninstall remove.
	ToolsDir = StateDir + "/bin"
	// ManifestPath is the verified manifest of the last download.
	ManifestPath = StateDir + "/manifest.json"
	// CacheDir holds the downloaded artifacts.
	CacheDir = "/var/cache/add2tkectl"
	// LogDir is the operator's record of what install and uninstall did;
	// uninstall keeps it.
	LogDir = "/var/log/add2tkectl"
	// LogPath is the log file of install and uninstall.
	LogPath = LogDir + "/add2tkectl.log"
	// LockPath is the run lock: in /run, so a reboot clears it.
	LockPath = "/run/add2tkectl.lock"

	// KubeletKubeconfig is the kubelet's own kubeconfig, written at TLS
	// bootstrap: the node's credentials.
	KubeletKubeconfig = "/etc/kubernetes/kubelet.conf"
	// ContainerdSocket is where containerd answers.
	ContainerdSocket = "/run/containerd/containerd.sock"
	// DockerSocket is where dockerd answers.
	DockerSocket = "/run/docker.sock"
)
