package uninstall

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// markPatch cordons the Node and labels it for the control plane to delete;
// NodeRestriction lets a node patch both on its own Node.
func markPatch() []byte {
	b, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"labels": map[string]string{LabelUninstalled: "true"}},
		"spec":     map[string]any{"unschedulable": true},
	})
	return b
}

// adminClient is the client of --kubeconfig, a path on this machine (not
// under the root: it is the operator's file, not the host's).
func (u *Uninstall) adminClient() (kubeclient.Interface, error) {
	return u.d.NewClient(host.Root{Dir: "/"}, u.d.Kubeconfig, u.d.APITimeout)
}

func (u *Uninstall) nodeCredentials() bool {
	_, err := os.Stat(u.d.Root.Path(paths.KubeletKubeconfig))
	return err == nil
}

func (u *Uninstall) planNode(ctx context.Context) ([]string, error) {
	if u.d.NodeName == "" {
		return nil, nil
	}
	if u.d.Kubeconfig != "" {
		c, err := u.adminClient()
		if err != nil {
			return nil, err // a bad --kubeconfig is the operator's to fix first
		}
		_, err = c.Nodes().Get(ctx, u.d.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return []string{fmt.Sprintf("delete Node %s (with %s)", u.d.NodeName, u.d.Kubeconfig)}, nil
	}
	if !u.nodeCredentials() {
		return nil, nil
	}
	return []string{fmt.Sprintf("cordon Node %s and label it %s=true (with the node's credentials)", u.d.NodeName, LabelUninstalled)}, nil
}

// runNode never fails the uninstall for the API server's sake: a host whose
// cluster is gone or unreachable must still be given back. It warns instead.
func (u *Uninstall) runNode(ctx context.Context) error {
	if u.d.Kubeconfig != "" {
		return u.deleteNode(ctx)
	}
	c, err := u.d.NewClient(u.d.Root, paths.KubeletKubeconfig, u.d.APITimeout)
	if err != nil {
		u.warn("node", "cannot use the node's credentials (%v): cordon and delete Node %s from the cluster yourself", err, u.d.NodeName)
		return nil
	}
	_, err = c.Nodes().Patch(ctx, u.d.NodeName, types.StrategicMergePatchType, markPatch(), metav1.PatchOptions{})
	switch {
	case err == nil:
		u.d.Log.WithFields(logrus.Fields{"node": u.d.NodeName, "label": LabelUninstalled + "=true"}).Info("Node cordoned and labelled; delete it with `kubectl delete node` or run uninstall with --kubeconfig")
	case apierrors.IsNotFound(err):
		u.d.Log.WithField("node", u.d.NodeName).Info("the API server has no such Node any more")
	default:
		u.warn("node", "could not cordon and label Node %s (%v): the host is uninstalled anyway; delete the Node from the cluster with `kubectl delete node %s`", u.d.NodeName, err, u.d.NodeName)
	}
	return nil
}

func (u *Uninstall) deleteNode(ctx context.Context) error {
	c, err := u.adminClient()
	if err != nil {
		return err
	}
	opts := metav1.DeleteOptions{}
	// Only the Node this host joined as: a host that took the name since
	// has another UID.
	if uid, ok := u.d.Journal.Values()[join.KeyNodeUID]; ok && uid != "" {
		u2 := types.UID(uid)
		opts.Preconditions = &metav1.Preconditions{UID: &u2}
	}
	err = c.Nodes().Delete(ctx, u.d.NodeName, opts)
	switch {
	case err == nil:
		u.d.Log.WithField("node", u.d.NodeName).Info("Node deleted")
	case apierrors.IsNotFound(err):
	case apierrors.IsConflict(err):
		u.warn("node", "Node %s is no longer the one this host joined as (its UID changed): left alone", u.d.NodeName)
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return fmt.Errorf("delete Node %s with %s: %w; use a kubeconfig allowed to delete nodes, or run without --kubeconfig to cordon and label it", u.d.NodeName, u.d.Kubeconfig, err)
	default:
		u.warn("node", "could not delete Node %s (%v): the host is uninstalled anyway; delete it with `kubectl delete node %s`", u.d.NodeName, err, u.d.NodeName)
	}
	return nil
}
