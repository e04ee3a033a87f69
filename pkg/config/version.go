package config

import (
	"fmt"
	"regexp"
	"strconv"
)

// The Kubernetes minors add2tkectl knows how to configure a kubelet for.
const (
	MinKubernetesMinor = 18
	MaxKubernetesMinor = 37
)

// FirstMinorWithoutDockershim is where docker needs cri-dockerd (1.24).
const FirstMinorWithoutDockershim = 24

// KubernetesVersion is a parsed cluster.kubernetesVersion.
type KubernetesVersion struct {
	Major, Minor, Patch int
	// Suffix is a vendor suffix such as "-tke.8", kept for artifact names.
	Suffix string
}

// String is the version in kubelet's form, v1.35.4.
func (v KubernetesVersion) String() string {
	return fmt.Sprintf("v%d.%d.%d%s", v.Major, v.Minor, v.Patch, v.Suffix)
}

var kubeVersionRE = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z][0-9A-Za-z.-]*)?$`)

// ParseKubernetesVersion reads "1.35.4", "v1.35.4" or "1.30.0-tke.8".
func ParseKubernetesVersion(s string) (KubernetesVersion, error) {
	m := kubeVersionRE.FindStringSubmatch(s)
	if m == nil {
		return KubernetesVersion{}, fmt.Errorf("must be a full version MAJOR.MINOR.PATCH such as 1.35.4")
	}
	var v KubernetesVersion
	var err error
	for i, dst := range []*int{&v.Major, &v.Minor, &v.Patch} {
		if *dst, err = strconv.Atoi(m[i+1]); err != nil {
			return KubernetesVersion{}, fmt.Errorf("must be a full version MAJOR.MINOR.PATCH such as 1.35.4")
		}
	}
	v.Suffix = m[4]
	return v, nil
}

// KubernetesVersion returns the parsed cluster.kubernetesVersion; the
// configuration must have been validated.
func (c *NodePoolJoin) KubernetesVersion() KubernetesVersion {
	v, _ := ParseKubernetesVersion(c.Cluster.KubernetesVersion)
	return v
}

// NeedsCRIDockerd says whether cri-dockerd joins the install plan: docker on
// Kubernetes 1.24 or newer, where the kubelet no longer carries dockershim.
func (c *NodePoolJoin) NeedsCRIDockerd() bool {
	v, err := ParseKubernetesVersion(c.Cluster.KubernetesVersion)
	return err == nil && c.NodePool.Runtime.Kind == RuntimeDocker &&
		(v.Major > 1 || v.Minor >= FirstMinorWithoutDockershim)
}
