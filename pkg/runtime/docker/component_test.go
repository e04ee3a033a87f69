package docker

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// dockerd answers /version on its unix socket; the probe takes the version
// from there, and a socket nobody serves is an unhealthy runtime.
func TestDockerRuntimeAnswersOnItsSocket(t *testing.T) {
	root := host.Root{Dir: shortTempDir(t)}
	sock := root.Path(paths.DockerSocket)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/version" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"Version":"20.10.24+dfsg1","ApiVersion":"1.41"}`))
	})}
	go func() { _ = srv.Serve(l) }()

	rt := Runtime.Probe(context.Background(), root)
	if rt != (component.Probe{Healthy: true, Version: "20.10.24+dfsg1", Endpoint: paths.DockerSocket}) {
		t.Errorf("running dockerd: %+v", rt)
	}
	_ = srv.Close()
	rt = Runtime.Probe(context.Background(), root)
	if rt.Healthy || rt.Version != "" || rt.Error == "" {
		t.Errorf("stopped dockerd: %+v", rt)
	}
}

// shortTempDir keeps the socket path under the 108 bytes a unix socket
// address may have.
func shortTempDir(t testing.TB) string {
	dir, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
