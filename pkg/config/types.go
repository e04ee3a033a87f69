// Package config holds the NodePoolJoin document: its type, defaults,
// loading, validation and the payload bundled into the executable.
package config

// APIVersion and Kind identify the configuration document.
const (
	APIVersion = "add2tke.tke.cloud.tencent.com/v1alpha1"
	Kind       = "NodePoolJoin"
)

// Runtime kinds and network plugins the configuration accepts.
const (
	RuntimeContainerd = "containerd"
	RuntimeDocker     = "docker"

	NetworkCiliumVXLAN = "cilium-vxlan"
	NetworkCiliumBGP   = "cilium-bgp"
)

// Labels with a meaning to the configuration.
const (
	LabelLocation = "tke.cloud.tencent.com/location"
	LabelAS       = "infra.tce.io/as"
	LabelSwitchIP = "infra.tce.io/switch-ip"
)

// NodePoolJoin is everything a host needs to join one node pool of one
// cluster. Field names are a contract with the console, scripts and Ansible.
type NodePoolJoin struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Cluster    Cluster   `json:"cluster"`
	NodePool   NodePool  `json:"nodePool"`
	Artifacts  Artifacts `json:"artifacts"`
}

// Cluster describes the managed cluster the host joins.
type Cluster struct {
	ID                string    `json:"id"`
	Region            string    `json:"region,omitempty"`
	KubernetesVersion string    `json:"kubernetesVersion"`
	APIServer         APIServer `json:"apiServer"`
	BootstrapToken    string    `json:"bootstrapToken"`
	Network           Network   `json:"network"`
}

// APIServer is the private endpoint of the cluster's API server and how
// to trust it: the CA bundle itself, or kubeadm-style hashes of its keys.
type APIServer struct {
	Endpoint     string   `json:"endpoint"`
	CAData       string   `json:"caData,omitempty"`
	CACertHashes []string `json:"caCertHashes,omitempty"`
}

// Network is the cluster's pod network.
type Network struct {
	Plugin  string `json:"plugin"`
	PodCIDR string `json:"podCIDR"`
}

// NodePool holds the settings the console gives every host of the pool.
type NodePool struct {
	ID         string            `json:"id"`
	Runtime    Runtime           `json:"runtime"`
	Cordon     bool              `json:"cordon"`
	Labels     map[string]string `json:"labels,omitempty"`
	Taints     []Taint           `json:"taints,omitempty"`
	UserScript string            `json:"userScript,omitempty"`
	Kubelet    Kubelet           `json:"kubelet"`
}

// Runtime is the container runtime installed on the host.
type Runtime struct {
	Kind    string `json:"kind"`
	Version string `json:"version"`
	DataDir string `json:"dataDir,omitempty"`
}

// Taint is a node taint registered with the Node.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// Kubelet carries overrides merged last into the rendered kubelet setup.
type Kubelet struct {
	ExtraArgs   map[string]string `json:"extraArgs,omitempty"`
	ExtraConfig map[string]any    `json:"extraConfig,omitempty"`
}

// Artifacts says where the signed manifest is and which key signs it.
type Artifacts struct {
	ManifestURL string `json:"manifestURL"`
	PublicKey   string `json:"publicKey"`
}

// Default fills what the document may leave out.
func (c *NodePoolJoin) Default() {
	if c.APIVersion == "" {
		c.APIVersion = APIVersion
	}
	if c.Kind == "" {
		c.Kind = Kind
	}
	if c.Cluster.Network.Plugin == "" {
		c.Cluster.Network.Plugin = NetworkCiliumVXLAN
	}
	if c.NodePool.Runtime.Kind == "" {
		c.NodePool.Runtime.Kind = RuntimeContainerd
	}
	if c.NodePool.Runtime.DataDir == "" {
		c.NodePool.Runtime.DataDir = DefaultDataDir(c.NodePool.Runtime.Kind)
	}
}

// DefaultDataDir is the data directory of a runtime kind when the pool
// names none.
func DefaultDataDir(kind string) string {
	if kind == RuntimeDocker {
		return "/var/lib/docker"
	}
	return "/var/lib/containerd"
}
