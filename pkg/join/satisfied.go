package join

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// Satisfied reports whether the host has joined as Run would leave it: the
// Node exists, carries the pool's labels (and none it dropped), the journal
// knows this Node, and its first-join cordon is on record when the pool asks
// for one. Whether it is Ready is AwaitReady's to wait for: a rebooted
// kubelet's Node is NotReady for a while, and waiting for it changes
// nothing. It costs one GET of the Node with the node's own credentials,
// bounded by SatisfiedTimeout; an API server that does not answer means
// "not satisfied", so Run waits and explains.
func Satisfied(ctx context.Context, d Deps) (bool, error) {
	if err := d.check(); err != nil {
		return false, err
	}
	if _, err := os.Stat(d.Root.Path(paths.KubeletKubeconfig)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	log := d.log().WithField("node", d.NodeName)
	c, err := d.client(paths.KubeletKubeconfig, SatisfiedTimeout)
	if err != nil {
		log.WithError(err).Debug("join not satisfied: no client")
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, SatisfiedTimeout)
	defer cancel()
	n, err := c.Nodes().Get(ctx, d.NodeName, metav1.GetOptions{})
	if err != nil {
		log.WithError(err).Debug("join not satisfied: cannot read the Node")
		return false, nil
	}
	uid := string(n.UID)
	desired := d.Config.NodePool.Labels
	owned := d.factList(KeyLabels)
	var reason string
	switch {
	case d.fact(KeyNodeUID) != uid:
		reason = "Node not on record in the journal"
	case !PlanLabels(n.Labels, desired, owned).Empty() || !ownsAll(owned, desired):
		reason = "labels differ from nodePool.labels"
	case d.Config.NodePool.Cordon && d.fact(KeyCordoned) != uid:
		reason = "first-join cordon not on record"
	}
	if reason != "" {
		log.WithField("reason", reason).Debug("join not satisfied")
		return false, nil
	}
	return true, nil
}

// AwaitReady waits, bounded by Deps.Timeout, for the Node of a host that
// Satisfied says has joined to be Ready as its running kubelet reports it;
// a wait that outlasts the timeout is a *TimeoutError at the Ready step.
func AwaitReady(ctx context.Context, d Deps) error {
	j, ctx, cancel, err := newJoiner(ctx, d)
	if err != nil {
		return err
	}
	defer cancel()
	c, err := d.client(paths.KubeletKubeconfig, requestTimeout)
	if err != nil {
		return fmt.Errorf("join of node %s: the kubelet's kubeconfig: %w", d.NodeName, err)
	}
	return j.waitReady(ctx, c)
}
