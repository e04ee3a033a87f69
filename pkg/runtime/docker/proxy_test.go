package docker

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func proxied(port string) *site.Settings {
	return &site.Settings{Proxy: site.Proxy{HTTP: "http://10.0.0.2:" + port, HTTPS: "http://10.0.0.2:" + port}}
}

// TestProxyDropInOnlyForDockerd: dockerd pulls the images and gets the
// proxy drop-in; cri-dockerd, which only asks dockerd over its socket, gets
// none and is not restarted when the proxy changes; no proxy removes the
// drop-in and restarts dockerd.
func TestProxyDropInOnlyForDockerd(t *testing.T) {
	ctx := context.Background()
	d, fake, rec := newDeps(t, "1.30.2")
	d.Config.Cluster.APIServer.Endpoint = "https://10.0.0.5:443"
	d.Config.Cluster.Network.PodCIDR = "172.20.0.0/16"
	d.NodeIP = "10.0.1.17"
	d.Site = proxied("3128")
	drop := site.DropInPath(DockerService)
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(d.Root.Path(drop))
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "docker-proxy.conf", b)
	unit, _ := os.ReadFile(d.Root.Path(systemd.UnitPath(DockerService)))
	sock, _ := os.ReadFile(d.Root.Path(systemd.UnitPath(DockerSocket)))
	systemdtest.Verify(t, map[string][]byte{systemd.UnitPath(DockerService): unit, systemd.UnitPath(DockerSocket): sock, drop: b})
	if _, ok := rec.Files[drop]; !ok {
		t.Errorf("%s is not in the journal", drop)
	}
	if _, err := os.Stat(d.Root.Path(site.DropInPath(CRIDockerdService))); err == nil {
		t.Error("cri-dockerd got a proxy drop-in")
	}

	d.Site = proxied("3129")
	if ok, err := Satisfied(ctx, d); err != nil || ok {
		t.Fatalf("Satisfied with another proxy port = %v, %v", ok, err)
	}
	fake.ResetCalls()
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "restart docker.service"}) {
		t.Errorf("changed proxy: systemd calls %v, want a daemon-reload and dockerd's restart only", got)
	}

	d.Site = nil
	fake.ResetCalls()
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Root.Path(drop)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("drop-in still there without a proxy: %v", err)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "restart docker.service"}) {
		t.Errorf("proxy removed: systemd calls %v", got)
	}
	if ok, err := Satisfied(ctx, d); err != nil || !ok {
		t.Errorf("Satisfied after the removal = %v, %v", ok, err)
	}
}
