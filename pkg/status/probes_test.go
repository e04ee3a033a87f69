package status

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
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

	rt := probeRuntime(context.Background(), root, config.RuntimeDocker)
	if rt != (Runtime{Kind: "docker", Healthy: true, Version: "20.10.24+dfsg1", Socket: paths.DockerSocket}) {
		t.Errorf("running dockerd: %+v", rt)
	}
	_ = srv.Close()
	rt = probeRuntime(context.Background(), root, config.RuntimeDocker)
	if rt.Healthy || rt.Version != "" || rt.Error == "" {
		t.Errorf("stopped dockerd: %+v", rt)
	}
}

// A file a component stamp describes is trusted while its size and mtime
// are the stamp's, and hashed (and reported) once they change.
func TestStampedFileChangeIsDetected(t *testing.T) {
	h := newHost(t)
	const p = "/usr/local/bin/ctr"
	_, err := phase.Run(context.Background(), []phase.Phase{{Name: "runtime", Run: func(_ context.Context, rec phase.Recorder) error {
		if _, err := h.root.WriteFile(rec, p, []byte("binary"), 0o755); err != nil {
			return err
		}
		sum, err := binary.SumFile(h.root.Path(p))
		if err != nil {
			return err
		}
		return binary.SaveStamp(h.root, rec, "containerd", binary.Stamp{Files: map[string]binary.Sum{p: sum}})
	}}}, phase.Options{Root: h.root.Dir})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := gather(t, h.deps()); err != nil {
		t.Fatalf("intact stamped file: %v %+v", err, rep.Drift.Files)
	}
	f, err := os.OpenFile(h.root.Path(p), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte("x"))
	_ = f.Close()
	rep, _ := gather(t, h.deps())
	if !contains(rep.Problems, "drift: file /usr/local/bin/ctr modified") {
		t.Errorf("problems %q", rep.Problems)
	}
}
