package install

import (
	"fmt"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// KubeletMoveError is a cluster.kubernetesVersion the installed kubelet
// cannot move to in place: an older minor, or more than one minor up. The
// CLI exits 2: it is the bundle that is wrong for this host.
type KubeletMoveError struct {
	Installed, Configured string
	Reason, Fix           string
}

func (e *KubeletMoveError) Error() string {
	return fmt.Sprintf("cluster.kubernetesVersion %s %s the kubelet %s installed on this host: %s",
		e.Configured, e.Reason, e.Installed, e.Fix)
}

// CheckKubeletMove refuses a configuration whose Kubernetes minor the
// installed kubelet cannot move to in place, before anything changes. A
// kubelet moves up one minor at a time, as the control plane does (a kubelet
// that skips one may meet an API it never knew), and never down: its
// on-disk state (checkpoints, the pod manifests' fields) is only
// forward-compatible. A patch move either way, or a first install, is fine.
func CheckKubeletMove(root host.Root, c *config.NodePoolJoin) error {
	j, err := phase.LoadJournal(root.Dir)
	if err != nil {
		return err
	}
	installed := j.Values()[kubelet.KeyVersion]
	if installed == "" {
		return nil
	}
	have, err := config.ParseKubernetesVersion(installed)
	if err != nil {
		// A journal from a build that recorded something else: the kubelet
		// phase replaces whatever it is.
		return nil
	}
	want := c.KubernetesVersion()
	e := &KubeletMoveError{Installed: installed, Configured: c.Cluster.KubernetesVersion}
	switch {
	case want.Major != have.Major:
		e.Reason, e.Fix = "is of another major than", "uninstall first, then install with this bundle"
	case want.Minor < have.Minor:
		e.Reason = "is an older minor than"
		e.Fix = "a kubelet is never downgraded in place: use the bundle of this node pool's current version, or uninstall first (the node leaves the cluster) and install with this one"
	case want.Minor > have.Minor+1:
		e.Reason = fmt.Sprintf("is %d minors newer than", want.Minor-have.Minor)
		e.Fix = fmt.Sprintf("upgrade one minor at a time: install with the bundle of 1.%d first, then this one", have.Minor+1)
	default:
		return nil
	}
	return e
}
