package join

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	corev1 "k8s.io/api/core/v1"
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
	ok, _, err := SatisfiedNode(ctx, d)
	return ok, err
}

// SatisfiedNode is Satisfied, with the Node it read when it is satisfied:
// ReadyNow can then spare AwaitReady's client and GET (about 7 ms of a
// no-op run on the e2e host).
func SatisfiedNode(ctx context.Context, d Deps) (bool, *corev1.Node, error) {
	if err := d.check(); err != nil {
		return false, nil, err
	}
	if _, err := os.Stat(d.Root.Path(paths.KubeletKubeconfig)); errors.Is(err, fs.ErrNotExist) {
		return false, nil, nil
	}
	log := d.log().WithField("node", d.NodeName)
	c, err := d.client(paths.KubeletKubeconfig, SatisfiedTimeout)
	if err != nil {
		log.WithError(err).Debug("join not satisfied: no client")
		return false, nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, SatisfiedTimeout)
	defer cancel()
	n, err := c.Nodes().Get(ctx, d.NodeName, metav1.GetOptions{})
	if err != nil {
		log.WithError(err).Debug("join not satisfied: cannot read the Node")
		return false, nil, nil
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
		return false, nil, nil
	}
	return true, n, nil
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

// ReadyNow reports whether n, a Node just read, is Ready as AwaitReady
// waits for it (its running kubelet's heartbeat), without another read.
func ReadyNow(ctx context.Context, d Deps, n *corev1.Node) bool {
	ready, _ := d.nodeReady(ctx, n)
	return ready
}
