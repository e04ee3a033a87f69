package join

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// NodeStatus is the Node as the API server shows it to the node itself.
type NodeStatus struct {
	Name           string            `json:"name"`
	Registered     bool              `json:"registered"`
	Ready          bool              `json:"ready"`
	Reason         string            `json:"reason,omitempty"` // why not Ready
	Unschedulable  bool              `json:"unschedulable"`
	Labels         map[string]string `json:"labels,omitempty"`
	Taints         []config.Taint    `json:"taints,omitempty"`
	InternalIP     string            `json:"internalIP,omitempty"`
	KubeletVersion string            `json:"kubeletVersion,omitempty"`
	// ReadyReportedAt is when the kubelet last wrote the Ready condition
	// (this host's clock); zero when it never did.
	ReadyReportedAt time.Time `json:"readyReportedAt,omitzero"`
}

// ErrNotJoined is returned by Status on a host without kubelet credentials.
var ErrNotJoined = errors.New("this host has not joined: no " + paths.KubeletKubeconfig + "; run install")

// Status reads the Node with the node's own credentials, in one request
// bounded by timeout (SatisfiedTimeout when zero). newClient may be nil.
func Status(ctx context.Context, root host.Root, nodeName string, timeout time.Duration, newClient ClientFactory) (NodeStatus, error) {
	st := NodeStatus{Name: nodeName}
	if _, err := os.Stat(root.Path(paths.KubeletKubeconfig)); errors.Is(err, fs.ErrNotExist) {
		return st, ErrNotJoined
	}
	if timeout <= 0 {
		timeout = SatisfiedTimeout
	}
	if newClient == nil {
		newClient = NewClient
	}
	c, err := newClient(root, paths.KubeletKubeconfig, timeout)
	if err != nil {
		return st, err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	n, err := c.Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		st.Reason = "node not registered"
		return st, nil
	case apierrors.IsUnauthorized(err):
		return st, fmt.Errorf("the API server rejects this node's credentials (401): run install to bootstrap again: %w", err)
	case err != nil:
		return st, fmt.Errorf("read Node %s from the API server: %w; check that it is reachable from this host", nodeName, err)
	}
	return nodeStatus(n), nil
}

func nodeStatus(n *corev1.Node) NodeStatus {
	st := NodeStatus{
		Name:           n.Name,
		Registered:     true,
		Unschedulable:  n.Spec.Unschedulable,
		Labels:         n.Labels,
		KubeletVersion: n.Status.NodeInfo.KubeletVersion,
	}
	st.Ready, st.Reason = readyCondition(n)
	st.ReadyReportedAt = readyReportedAt(n)
	for _, t := range n.Spec.Taints {
		st.Taints = append(st.Taints, config.Taint{Key: t.Key, Value: t.Value, Effect: string(t.Effect)})
	}
	sortTaints(st.Taints)
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			st.InternalIP = a.Address
			break
		}
	}
	return st
}

// ownsAll reports whether the journal lists every configured label key.
func ownsAll(owned []string, desired map[string]string) bool {
	set := map[string]bool{}
	for _, k := range owned {
		set[k] = true
	}
	for k := range desired {
		if !set[k] {
			return false
		}
	}
	return true
}
