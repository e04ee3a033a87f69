package join

import (
	"context"
	"encoding/json"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"

	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
)

// LabelUninstalled marks a Node whose host was uninstalled, for the control
// plane to delete (pkg/uninstall sets it with the cordon; the node's own
// credentials may not delete its Node).
const LabelUninstalled = "add2tke.tke.cloud.tencent.com/uninstalled"

// clearUninstalled takes the uninstall mark off a Node this host joins
// again under — the control plane would otherwise delete a live node —
// and lifts the cordon uninstall put on it unless the pool wants the node
// cordoned anyway.
func (j *joiner) clearUninstalled(ctx context.Context, c kubeclient.Interface, node *corev1.Node) error {
	if _, marked := node.Labels[LabelUninstalled]; !marked {
		return nil
	}
	patch := map[string]any{"metadata": map[string]any{"labels": map[string]any{LabelUninstalled: nil}}}
	uncordon := node.Spec.Unschedulable && !j.d.Config.NodePool.Cordon
	if uncordon {
		patch["spec"] = map[string]any{"unschedulable": false}
	}
	b, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	j.log.WithFields(logrus.Fields{"node": node.Name, "label": LabelUninstalled, "uncordon": uncordon}).Info("the Node was marked by an earlier uninstall: clearing the mark (and its cordon)")
	if err := j.patch(ctx, StepLabels, c, b); err != nil {
		return err
	}
	delete(node.Labels, LabelUninstalled)
	if uncordon {
		node.Spec.Unschedulable = false
	}
	j.res.UninstallMarkCleared = true
	return nil
}
