package containerd

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

func proxied(port string) *site.Settings {
	return &site.Settings{Proxy: site.Proxy{HTTP: "http://10.0.0.2:" + port, HTTPS: "http://10.0.0.2:" + port, NoProxy: []string{".idc.example"}}}
}

// TestProxyDropInConverges: a proxy gives containerd its own drop-in
// before it first starts; a changed proxy rewrites it and restarts
// containerd after a daemon-reload; no proxy removes it, forgets it in the
// journal and restarts containerd again; then nothing is left to do.
func TestProxyDropInConverges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "1.7.22", "v1", true)
	f.deps.Config.Cluster.APIServer.Endpoint = "https://10.0.0.5:443"
	f.deps.Config.Cluster.Network.PodCIDR = "172.20.0.0/16"
	f.deps.NodeIP = "10.0.1.17"
	f.deps.Site = proxied("3128")
	drop := site.DropInPath(UnitName)
	if _, err := Install(ctx, f.deps); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.deps.Root.Path(drop))
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "containerd-proxy.conf", b)
	unit, _ := os.ReadFile(f.deps.Root.Path(systemd.UnitPath(UnitName)))
	systemdtest.Verify(t, map[string][]byte{systemd.UnitPath(UnitName): unit, drop: b})
	if _, ok := f.rec.Files[drop]; !ok {
		t.Errorf("%s is not in the journal: uninstall would leave it", drop)
	}
	if got := f.fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "enable containerd.service", "start containerd.service"}) {
		t.Errorf("first install: systemd calls %v", got)
	}
	if ok, err := Satisfied(ctx, f.deps); err != nil || !ok {
		t.Fatalf("Satisfied after Install = %v, %v", ok, err)
	}

	f.deps.Site = proxied("3129")
	if ok, err := Satisfied(ctx, f.deps); err != nil || ok {
		t.Fatalf("Satisfied with another proxy port = %v, %v", ok, err)
	}
	f.fake.ResetCalls()
	if changed, err := Install(ctx, f.deps); err != nil || !changed {
		t.Fatalf("Install with another proxy port = %v, %v", changed, err)
	}
	if got := f.fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "restart containerd.service"}) {
		t.Errorf("changed proxy: systemd calls %v, want a daemon-reload and one restart", got)
	}
	if b, _ := os.ReadFile(f.deps.Root.Path(drop)); !strings.Contains(string(b), "HTTP_PROXY=http://10.0.0.2:3129") {
		t.Errorf("drop-in after the change:\n%s", b)
	}

	f.deps.Site = &site.Settings{}
	if ok, err := Satisfied(ctx, f.deps); err != nil || ok {
		t.Fatalf("Satisfied with the proxy gone but its drop-in there = %v, %v", ok, err)
	}
	f.fake.ResetCalls()
	if changed, err := Install(ctx, f.deps); err != nil || !changed {
		t.Fatalf("Install without a proxy = %v, %v", changed, err)
	}
	if _, err := os.Stat(f.deps.Root.Path(drop)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("drop-in still there without a proxy: %v", err)
	}
	if _, ok := f.rec.Files[drop]; ok {
		t.Errorf("%s removed but still in the journal: status would report it missing", drop)
	}
	if got := f.fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "restart containerd.service"}) {
		t.Errorf("proxy removed: systemd calls %v, want a daemon-reload and one restart", got)
	}
	f.fake.ResetCalls()
	if changed, err := Install(ctx, f.deps); err != nil || changed {
		t.Fatalf("Install again without a proxy = %v, %v; want no change", changed, err)
	}
	if got := f.fake.Calls(); len(got) != 0 {
		t.Errorf("nothing to do, yet systemd calls %v", got)
	}
}

// TestNoProxyNoDropIn: without site settings containerd gets no drop-in.
func TestNoProxyNoDropIn(t *testing.T) {
	f := newFixture(t, "1.7.22", "v1", true)
	files, _, err := Files(f.deps)
	if err != nil {
		t.Fatal(err)
	}
	for p := range files {
		if strings.HasSuffix(p, site.DropInName) {
			t.Errorf("no proxy, yet %s", p)
		}
	}
}
