package join

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient/kubeclienttest"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// A host uninstalled (Node cordoned and marked for deletion) and installed
// again under the same Node: the join takes the mark off and lifts the
// uninstall's cordon when the pool does not want one.
func TestRunClearsTheUninstallMarkOfANodeJoinedAgain(t *testing.T) {
	for _, cordon := range []bool{false, true} {
		root := bootstrapped(t)
		n := testNode("n1", "uid-1", ready(corev1.ConditionTrue, "", ""),
			withLabels(map[string]string{config.LabelLocation: "idc-sh-01", LabelUninstalled: "true", "other": "x"}), withTaints(configuredTaint))
		n.Spec.Unschedulable = true
		c := kubeclienttest.New(n)
		j := newJournal() // uninstall removed the journal
		d := testDeps(t, root, j, clients(map[string]kubeclient.Interface{paths.KubeletKubeconfig: c}))
		d.Config.NodePool.Cordon = cordon
		res, err := Run(context.Background(), d, j)
		if err != nil {
			t.Fatal(err)
		}
		got := getNode(t, c, "n1")
		if _, marked := got.Labels[LabelUninstalled]; marked || got.Labels["other"] != "x" {
			t.Errorf("cordon %v: labels after the join %v", cordon, got.Labels)
		}
		if got.Spec.Unschedulable != cordon || !res.UninstallMarkCleared || !res.Changed {
			t.Errorf("cordon %v: unschedulable %v, result %+v", cordon, got.Spec.Unschedulable, res)
		}
	}
}
