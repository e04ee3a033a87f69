package images

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

func writeTar(t *testing.T, path string, members map[string]string) string {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for n, body := range members {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReferencesFromOCIAndDockerArchives(t *testing.T) {
	dir := t.TempDir()
	oci := writeTar(t, filepath.Join(dir, "oci.tar"), map[string]string{
		"oci-layout": `{"imageLayoutVersion":"1.0.0"}`,
		"index.json": `{"manifests":[{"digest":"sha256:aa","annotations":{"io.containerd.image.name":"registry.local/pause:3.10","org.opencontainers.image.ref.name":"3.10"}},
		                              {"digest":"sha256:bb","annotations":{"org.opencontainers.image.ref.name":"registry.local/cilium:v1.16"}},
		                              {"digest":"sha256:cc","annotations":{"org.opencontainers.image.ref.name":"latest"}}]}`,
	})
	docker := writeTar(t, filepath.Join(dir, "docker.tar"), map[string]string{
		"manifest.json": `[{"Config":"c.json","RepoTags":["registry.local/pause:3.10","pause:latest"],"Layers":[]}]`,
	})
	for path, want := range map[string][]string{
		oci:    {"registry.local/pause:3.10", "registry.local/cilium:v1.16"},
		docker: {"registry.local/pause:3.10", "pause:latest"},
	} {
		got, err := References(path)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, %v; want %v", filepath.Base(path), got, err, want)
		}
	}
	if _, err := References(writeTar(t, filepath.Join(dir, "x.tar"), map[string]string{"a": "b"})); err == nil {
		t.Error("a tarball that is no image: no error")
	}
	img, err := SandboxImage(map[string]string{PauseArtifact: docker})
	if err != nil || img != "registry.local/pause:3.10" {
		t.Errorf("SandboxImage = %q, %v", img, err)
	}
	if img, _ := SandboxImage(nil); img != DefaultSandboxImage {
		t.Errorf("SandboxImage without artifact = %q", img)
	}
}

// fakeDockerd serves the two endpoints of the docker API we use, on a real
// unix socket, keeping images in memory.
type fakeDockerd struct {
	mu     sync.Mutex
	images map[string]string // ref -> ID
	loads  int
}

func (f *fakeDockerd) serve(t *testing.T) string {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/images/load":
			body, _ := io.ReadAll(r.Body)
			tr := tar.NewReader(bytes.NewReader(body))
			for {
				h, err := tr.Next()
				if err != nil {
					break
				}
				if h.Name == "manifest.json" {
					var ms []struct{ RepoTags []string }
					b, _ := io.ReadAll(tr)
					_ = json.Unmarshal(b, &ms)
					f.loads++
					for _, m := range ms {
						for _, tag := range m.RepoTags {
							f.images[tag] = fmt.Sprintf("sha256:%064x", len(body))
							fmt.Fprintf(w, "{\"stream\":\"Loaded image: %s\\n\"}\n", tag)
						}
					}
					return
				}
			}
			fmt.Fprintln(w, `{"errorDetail":{"message":"no manifest"},"error":"no manifest"}`)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/images/") && strings.HasSuffix(r.URL.Path, "/json"):
			ref := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/images/"), "/json")
			id, ok := f.images[ref]
			if !ok {
				http.Error(w, `{"message":"No such image"}`, http.StatusNotFound)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"Id": id})
		default:
			http.NotFound(w, r)
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

func TestInstallLoadsIntoDockerOnceAndReloadsWhatWentMissing(t *testing.T) {
	ctx := context.Background()
	dockerd := &fakeDockerd{images: map[string]string{}}
	sock := dockerd.serve(t)
	dir := t.TempDir()
	log, _ := logtest.NewNullLogger()
	rec := testrec.New()
	d := Deps{
		Deps: component.Deps{Root: host.Root{Dir: t.TempDir()}, Log: log, Recorder: rec, Config: &config.NodePoolJoin{NodePool: config.NodePool{Runtime: config.Runtime{Kind: config.RuntimeDocker}}}, Artifacts: map[string]string{
			"kubelet":     "/not/an/image",
			PauseArtifact: writeTar(t, filepath.Join(dir, "pause.tar"), map[string]string{"manifest.json": `[{"RepoTags":["registry.local/pause:3.10"]}]`}),
			"image/other": writeTar(t, filepath.Join(dir, "other.tar"), map[string]string{"manifest.json": `[{"RepoTags":["registry.local/other:1"]}]`}),
		}},
		Store: func(context.Context) (Store, error) { return NewDocker(sock), nil },
	}
	if ok, err := Satisfied(ctx, d); err != nil || ok {
		t.Fatalf("Satisfied before import = %v, %v", ok, err)
	}
	if changed, err := Install(ctx, d); err != nil || !changed {
		t.Fatalf("Install = %v, %v", changed, err)
	}
	if dockerd.loads != 2 || rec.Values["image.pause"] == "" {
		t.Fatalf("loads = %d, journal %v", dockerd.loads, rec.Values)
	}
	if ok, err := Satisfied(ctx, d); err != nil || !ok {
		t.Fatalf("Satisfied after import = %v, %v", ok, err)
	}
	if changed, err := Install(ctx, d); err != nil || changed || dockerd.loads != 2 {
		t.Fatalf("second Install = %v, %v, loads %d; want nothing loaded", changed, err, dockerd.loads)
	}
	// Someone runs `docker rmi`: the next install loads that image again.
	dockerd.mu.Lock()
	delete(dockerd.images, "registry.local/other:1")
	dockerd.mu.Unlock()
	if ok, _ := Satisfied(ctx, d); ok {
		t.Error("Satisfied with an image missing")
	}
	if changed, err := Install(ctx, d); err != nil || !changed || dockerd.loads != 3 {
		t.Fatalf("Install after rmi = %v, %v, loads %d", changed, err, dockerd.loads)
	}
}

func TestDockerLoadReportsTheDaemonsError(t *testing.T) {
	dockerd := &fakeDockerd{images: map[string]string{}}
	sock := dockerd.serve(t)
	bad := writeTar(t, filepath.Join(t.TempDir(), "bad.tar"), map[string]string{"x": "y"})
	_, err := NewDocker(sock).Load(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "no manifest") {
		t.Fatalf("err = %v", err)
	}
}
