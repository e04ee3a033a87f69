package install

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// TestDownloadGoesThroughTheSiteProxy: with a site proxy, the manifest
// and every artifact are fetched through it: the artifact store's host
// does not resolve, only the proxy (an httptest server forwarding to the
// store) reaches it. The API server at the store's host changes nothing:
// only the services' NO_PROXY lists it, for their connections to it.
func TestDownloadGoesThroughTheSiteProxy(t *testing.T) {
	cfg, _, requests := boundServer(t, "v1.35.4", "1.7.22")
	store, err := url.Parse(cfg.Artifacts.ManifestURL)
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: store.Host})
	var (
		mu    sync.Mutex
		asked []string
	)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.URL.String())
		mu.Unlock()
		forward.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	cfg.Artifacts.ManifestURL = "http://cos.idc.invalid/manifest.json"
	cfg.Cluster.APIServer.Endpoint = "https://cos.idc.invalid:6443"
	d := &Deps{Config: cfg, Root: host.Root{Dir: t.TempDir()}, Log: logrus.New(), Progress: artifact.NewProgress(io.Discard, false),
		Site: &site.Settings{Proxy: site.Proxy{HTTP: proxy.URL}}}
	a := &artifacts{d: d}
	if err := a.Run(context.Background(), testrec.New()); err != nil {
		t.Fatalf("download through the proxy: %v", err)
	}
	if len(a.paths) != 4 || requests.Load() != 4 {
		t.Errorf("paths %v, %d artifact requests; want kubelet, containerd, runc, cni-plugins", a.paths, requests.Load())
	}
	want := map[string]bool{"GET http://cos.idc.invalid/manifest.json": true}
	for _, n := range []string{"kubelet", "containerd", "runc", "cni-plugins"} {
		want["GET http://cos.idc.invalid/"+n] = true
	}
	for _, got := range asked {
		delete(want, got)
	}
	if len(want) != 0 {
		t.Errorf("the proxy was not asked for %v (it saw %s)", want, strings.Join(asked, ", "))
	}
}
