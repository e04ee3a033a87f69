package kubelet

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

// TestProxyDropInKeepsTheAPIServerDirect: the kubelet's proxy drop-in
// lists the API server's host and the node IP in NO_PROXY, sits beside its
// own drop-in, restarts the kubelet when it changes and goes with the
// proxy.
func TestProxyDropInKeepsTheAPIServerDirect(t *testing.T) {
	ctx := context.Background()
	d, fake, rec, _ := newDeps(t, "1.35.4")
	d.Config.Cluster.Network.PodCIDR = "172.20.0.0/16"
	d.Site = &site.Settings{Proxy: site.Proxy{HTTP: "http://10.0.0.2:3128", HTTPS: "http://10.0.0.2:3128"}}
	drop := site.DropInPath(UnitName)
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(d.Root.Path(drop))
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "kubelet-proxy.conf", b)
	if !strings.Contains(string(b), `Environment="NO_PROXY=localhost,127.0.0.1,::1,10.0.0.5,10.0.1.17,172.20.0.0/16,.svc,.cluster.local"`) {
		t.Errorf("NO_PROXY lacks the API server or the node IP:\n%s", b)
	}
	files := map[string][]byte{drop: b}
	for _, p := range []string{systemd.UnitPath(UnitName), systemd.DropInPath(UnitName, DropInName)} {
		files[p], _ = os.ReadFile(d.Root.Path(p))
	}
	systemdtest.Verify(t, files)
	if _, ok := rec.Files[drop]; !ok {
		t.Errorf("%s is not in the journal", drop)
	}

	d.Site.Proxy.HTTPS = "http://10.0.0.2:3129"
	if ok, err := Satisfied(ctx, d); err != nil || ok {
		t.Fatalf("Satisfied with another HTTPS proxy = %v, %v", ok, err)
	}
	fake.ResetCalls()
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "restart kubelet.service"}) {
		t.Errorf("changed proxy: systemd calls %v", got)
	}

	d.Site = nil
	fake.ResetCalls()
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Root.Path(drop)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("drop-in still there without a proxy: %v", err)
	}
	if _, ok := rec.Files[drop]; ok {
		t.Errorf("%s removed but still in the journal", drop)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "restart kubelet.service"}) {
		t.Errorf("proxy removed: systemd calls %v", got)
	}
}
