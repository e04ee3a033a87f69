package install

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// installedKubelet records kubelet.version in a journal under a new root,
// as the kubelet phase does.
func installedKubelet(t *testing.T, version string) host.Root {
	t.Helper()
	root := host.Root{Dir: t.TempDir()}
	if version == "" {
		return root
	}
	p := phase.Phase{Name: PhaseKubelet, Run: func(_ context.Context, rec phase.Recorder) error {
		return rec.Set(kubelet.KeyVersion, version)
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{p}, phase.Options{Root: root.Dir}); err != nil {
		t.Fatal(err)
	}
	return root
}

// One minor up, any patch move, a first install and a journal that
// recorded no usable version go on; down, two minors up or another major
// are refused with what to do.
func TestCheckKubeletMoveAllowsOneMinorUpAndRefusesTheRest(t *testing.T) {
	for _, c := range []struct {
		installed, configured string
		refused               string // in the error; "" is allowed
	}{
		{"", "1.35.4", ""},
		{"1.35.4", "1.35.4", ""},
		{"v1.34.5", "1.35.4", ""},
		{"1.35.4", "1.35.2", ""},
		{"1.35.4", "1.35.6", ""},
		{"1.35.4-tke.1", "1.36.0-tke.2", ""},
		{"not-a-version", "1.35.4", ""},
		{"1.35.4", "1.34.5", "never downgraded in place"},
		{"1.33.13", "1.35.4", "install with the bundle of 1.34 first"},
		{"1.18.19", "1.37.2", "19 minors newer"},
		{"1.35.4", "2.0.0", "another major"},
	} {
		root := installedKubelet(t, c.installed)
		cfg := &config.NodePoolJoin{Cluster: config.Cluster{KubernetesVersion: c.configured}}
		err := CheckKubeletMove(root, cfg)
		if c.refused == "" {
			if err != nil {
				t.Errorf("%s -> %s: %v, want it allowed", c.installed, c.configured, err)
			}
			continue
		}
		var me *KubeletMoveError
		if !errors.As(err, &me) {
			t.Errorf("%s -> %s: %v, want a *KubeletMoveError", c.installed, c.configured, err)
			continue
		}
		msg := err.Error()
		for _, want := range []string{c.refused, "cluster.kubernetesVersion " + c.configured, "kubelet " + c.installed} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s -> %s: %q lacks %q", c.installed, c.configured, msg, want)
			}
		}
	}
}
