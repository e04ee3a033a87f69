package docker

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/add2tkectl/add2tkectl/internal/artifacttest"
	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func TestRenderDaemonJSON(t *testing.T) {
	b, err := RenderDaemonJSON(DaemonParams{DataRoot: "/data/docker"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "daemon.json", b)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["data-root"] != "/data/docker" || m["exec-opts"].([]any)[0] != "native.cgroupdriver=systemd" || m["log-driver"] != "json-file" {
		t.Errorf("daemon.json = %v", m)
	}
	if m["bridge"] != "none" || m["iptables"] != false || m["default-runtime"] != nil {
		t.Errorf("daemon.json = %v: want no docker bridge, no docker iptables, docker's default runtime", m)
	}
	if _, err := RenderDaemonJSON(DaemonParams{DataRoot: "data"}); err == nil {
		t.Error("relative data root accepted")
	}

	b, err = RenderDaemonJSON(DaemonParams{DataRoot: "/data/docker", RestrictOOMScoreAdj: true})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "daemon.json-no-sys-resource", b)
	m = nil
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["default-runtime"] != RuncWrapperName || m["runtimes"].(map[string]any)[RuncWrapperName].(map[string]any)["path"] != RuncWrapperPath {
		t.Errorf("daemon.json without CAP_SYS_RESOURCE = %v: want %s as the default runtime", m, RuncWrapperPath)
	}
}

// TestRuncWrapperRaisesNegativeOOMScores runs the rendered wrapper with sh
// in front of a stand-in runc that records its arguments: a bundle asking
// -998 (a cri-dockerd sandbox) gets the caller's own score, a positive one
// is kept, and every argument reaches runc unchanged.
func TestRuncWrapperRaisesNegativeOOMScores(t *testing.T) {
	dir := t.TempDir()
	runc := filepath.Join(dir, "runc")
	if err := os.WriteFile(runc, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/args\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	w, err := RenderRuncWrapper(runc)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "add2tkectl-runc", mustRender(t, RenderRuncWrapper, BinDir+"/runc"))
	wrapper := filepath.Join(dir, "add2tkectl-runc")
	if err := os.WriteFile(wrapper, w, 0o755); err != nil {
		t.Fatal(err)
	}
	own, err := os.ReadFile("/proc/self/oom_score_adj")
	if err != nil {
		t.Skip("no /proc/self/oom_score_adj:", err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"process":{"oomScoreAdj":-998,"args":["/pause"]}}`, `{"process":{"oomScoreAdj":` + strings.TrimSpace(string(own)) + `,"args":["/pause"]}}`},
		{`{"process":{"oomScoreAdj":1000}}`, `{"process":{"oomScoreAdj":1000}}`},
	} {
		bundle := filepath.Join(dir, "bundle")
		if err := os.MkdirAll(bundle, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(tc.in), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"--root", "/run/x", "--log", "/l.json", "create", "--bundle", bundle, "--pid-file", "/p", "id1"}
		if out, err := exec.Command(wrapper, args...).CombinedOutput(); err != nil {
			t.Fatalf("wrapper: %v\n%s", err, out)
		}
		got, _ := os.ReadFile(filepath.Join(bundle, "config.json"))
		if string(got) != tc.want {
			t.Errorf("config.json %s became %s, want %s", tc.in, got, tc.want)
		}
		passed, _ := os.ReadFile(filepath.Join(dir, "args"))
		if string(passed) != strings.Join(args, "\n")+"\n" {
			t.Errorf("runc got arguments %q, want %q", passed, args)
		}
	}
	if _, err := RenderRuncWrapper("runc; rm -rf /"); err == nil {
		t.Error("a runc path with shell syntax accepted")
	}
}

func mustRender(t *testing.T, f func(string) ([]byte, error), arg string) []byte {
	t.Helper()
	b, err := f(arg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRenderUnits(t *testing.T) {
	for _, raise := range []bool{true, false} {
		p := UnitParams{RaiseLimits: raise, SandboxImage: "registry.local/pause:3.10"}
		suffix := ""
		if !raise {
			suffix = "-no-sys-resource"
		}
		files := map[string][]byte{}
		for name, f := range map[string]func() ([]byte, error){
			DockerService:     func() ([]byte, error) { return RenderDockerService(p) },
			DockerSocket:      RenderDockerSocket,
			CRIDockerdService: func() ([]byte, error) { return RenderCRIDockerdService(p) },
			CRIDockerdSocketU: RenderCRIDockerdSocket,
		} {
			b, err := f()
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(name, ".socket") {
				golden.Assert(t, name, b) // sockets do not depend on limits
			} else {
				golden.Assert(t, name+suffix, b)
			}
			files[systemd.UnitPath(name)] = b
			if strings.HasSuffix(name, ".service") && strings.Contains(string(b), "LimitNOFILE") != raise {
				t.Errorf("%s: LimitNOFILE present = %v with RaiseLimits %v", name, !raise, raise)
			}
		}
		systemdtest.Verify(t, files)
	}
	if _, err := RenderCRIDockerdService(UnitParams{SandboxImage: "a b"}); err == nil {
		t.Error("sandbox image with a space accepted")
	}
}

func newDeps(t *testing.T, k8s string) (Deps, *systemdtest.Fake, *testrec.Recorder) {
	root := t.TempDir()
	dir := t.TempDir()
	log, _ := logtest.NewNullLogger()
	members := map[string]string{}
	for _, b := range DockerBinaries {
		members["docker/"+b] = b + " 20.10.24"
	}
	fake := systemdtest.NewFake(root)
	rec := testrec.New()
	return Deps{
		Deps: component.Deps{Root: host.Root{Dir: root}, Systemd: fake, Log: log, Recorder: rec, Config: &config.NodePoolJoin{Cluster: config.Cluster{KubernetesVersion: k8s},
			NodePool: config.NodePool{Runtime: config.Runtime{Kind: "docker", Version: "20.10.24", DataDir: "/data/docker"}}}, Artifacts: map[string]string{
			ArtifactDocker:     artifacttest.TarGz(t, dir, "docker.tgz", members),
			"cni-plugins":      artifacttest.TarGz(t, dir, "cni.tgz", map[string]string{"bridge": "b", "loopback": "l"}),
			ArtifactCRIDockerd: artifacttest.Binary(t, dir, "cri-dockerd", "0.3.21"),
		}},
		CapSysResource: func() (bool, error) { return false, nil },
		Ready:          func(context.Context) error { return nil },
	}, fake, rec
}

func TestInstallWithCRIDockerdFrom124(t *testing.T) {
	for _, tc := range []struct {
		k8s   string
		units []string
		calls []string
	}{
		{"1.23.17", []string{DockerSocket, DockerService}, []string{
			"daemon-reload", "enable docker.socket", "start docker.socket",
			"enable docker.service", "start docker.service"}},
		{"1.30.2", []string{DockerSocket, DockerService, CRIDockerdSocketU, CRIDockerdService}, []string{
			"daemon-reload", "enable docker.socket", "start docker.socket",
			"enable docker.service", "start docker.service",
			"enable cri-docker.socket", "start cri-docker.socket",
			"enable cri-docker.service", "start cri-docker.service"}},
	} {
		t.Run(tc.k8s, func(t *testing.T) {
			ctx := context.Background()
			d, fake, rec := newDeps(t, tc.k8s)
			changed, err := Install(ctx, d)
			if err != nil || !changed {
				t.Fatalf("Install = %v, %v", changed, err)
			}
			if !reflect.DeepEqual(rec.Units, tc.units) {
				t.Errorf("units %v, want %v", rec.Units, tc.units)
			}
			_, err = os.Stat(d.Root.Path(BinDir + "/cri-dockerd"))
			if (err == nil) != (len(tc.units) == 4) {
				t.Errorf("cri-dockerd installed = %v", err == nil)
			}
			if got := fake.Calls(); !reflect.DeepEqual(got, tc.calls) {
				t.Errorf("systemd calls\n%v\nwant\n%v", got, tc.calls)
			}
			for _, b := range append(DockerBinaries, "../../../opt/cni/bin/bridge") {
				p := filepath.Clean(BinDir + "/" + b)
				if st, err := os.Stat(d.Root.Path(p)); err != nil || st.Mode().Perm() != 0o755 {
					t.Errorf("%s: %v", p, err)
				} else if _, ok := rec.Files[p]; !ok {
					t.Errorf("%s not in the journal", p)
				}
			}
			if ok, err := Satisfied(ctx, d); err != nil || !ok {
				t.Fatalf("Satisfied after Install = %v, %v", ok, err)
			}
			fake.ResetCalls()
			if changed, err := Install(ctx, d); err != nil || changed || len(fake.Calls()) > 0 {
				t.Fatalf("second Install = %v, %v, calls %v", changed, err, fake.Calls())
			}
			// A new data root restarts dockerd and nothing else.
			d.Config.NodePool.Runtime.DataDir = "/data2/docker"
			if _, err := Install(ctx, d); err != nil {
				t.Fatal(err)
			}
			if got := fake.Calls(); !reflect.DeepEqual(got, []string{"restart docker.service"}) {
				t.Errorf("data root change: calls %v", got)
			}
		})
	}
}

func TestWaitReadyPingsARealSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	log, _ := logtest.NewNullLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := WaitReady(ctx, sock, log); err == nil || !strings.Contains(err.Error(), "journalctl -u docker.service") {
		t.Fatalf("no daemon: err = %v", err)
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			_, _ = w.Write([]byte("OK"))
			return
		}
		http.NotFound(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := WaitReady(ctx2, sock, log); err != nil {
		t.Fatal(err)
	}
}
