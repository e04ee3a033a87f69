package status

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/components"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient/kubeclienttest"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// Secrets of testConfig that must never appear in a report.
const (
	testTokenSecret = "0123456789abcdef"
	testSignature   = "d24995db9418b68ff0d44860c3773a742a2b7985"
	testAccessKey   = "AKIDe2ec0dc852eca79123a"
)

var testPhaseNames = []string{"preflight", "download", "host", "runtime", "images", "kubelet", "join", "userscript"}

func testConfig() *config.NodePoolJoin {
	c := &config.NodePoolJoin{
		Cluster: config.Cluster{
			ID: "cls-test", KubernetesVersion: "1.35.4",
			APIServer:      config.APIServer{Endpoint: "https://10.0.0.5:443"},
			BootstrapToken: "abcdef." + testTokenSecret,
		},
		NodePool: config.NodePool{
			ID:         "np-test",
			Runtime:    config.Runtime{Kind: config.RuntimeContainerd, Version: "1.6.20"},
			Labels:     map[string]string{"tke.cloud.tencent.com/location": "idc-01", "example.com/rack": "r42"},
			Taints:     []config.Taint{{Key: "example.com/dedicated", Value: "idc", Effect: "PreferNoSchedule"}},
			UserScript: "#!/bin/bash\necho hello\n",
		},
		Artifacts: config.Artifacts{ManifestURL: "https://b.cos-internal.example/manifest.json?q-sign-algorithm=sha1&q-ak=" +
			testAccessKey + "&q-header-list=host&q-signature=" + testSignature},
	}
	c.Default()
	return c
}

// kubeletScript stands in for the kubelet binary: it answers --version.
const kubeletScript = "#!/bin/sh\necho 'Kubernetes v1.35.4'\n"

// testHost is a joined, healthy host under a temporary root: a journal
// written by the real phase runner, a fake systemd with the units active,
// a containerd gRPC server on the root's socket, a kubelet /healthz and a
// Node in a fake API.
type testHost struct {
	t        testing.TB
	root     host.Root
	cfg      *config.NodePoolJoin
	systemd  *systemdtest.Fake
	healthz  *httptest.Server
	healthy  atomic.Bool
	node     *corev1.Node
	api      *kubeclienttest.Fake
	rtServer *grpc.Server
	rtDone   chan struct{}
}

func newHost(t testing.TB) *testHost {
	t.Helper()
	h := &testHost{t: t, root: host.Root{Dir: shortTempDir(t)}, cfg: testConfig(), systemd: systemdtest.NewFake("")}
	h.install(nil)
	ctx := context.Background()
	for _, u := range []string{containerd.UnitName, "kubelet.service"} {
		if err := h.systemd.Enable(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := h.systemd.Start(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	h.startContainerd("1.6.20~ds1")
	h.healthy.Store(true)
	h.healthz = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !h.healthy.Load() {
			http.Error(w, "[-]syncloop failed", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(h.healthz.Close)
	h.node = &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{
			"kubernetes.io/hostname":         "node-1",
			"tke.cloud.tencent.com/location": "idc-01",
			"example.com/rack":               "r42",
		}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "example.com/dedicated", Value: "idc", Effect: corev1.TaintEffectPreferNoSchedule}}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.77.0.13"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.35.4"},
		},
	}
	h.api = kubeclienttest.New(h.node)
	h.writeFile(paths.KubeletKubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600)
	h.writeLastRun(`{"time":"2026-11-27T20:06:00Z","sha256":"` + sha256Hex([]byte(h.cfg.NodePool.UserScript)) +
		`","attempts":1,"exitCode":0,"succeeded":true,"duration":"120ms","logPath":"/usr/local/qcloud/tke/userscript/userscript.log"}`)
	return h
}

// shortTempDir keeps the containerd socket path under the 108 bytes a unix
// socket address allows.
func shortTempDir(t testing.TB) string {
	d, err := os.MkdirTemp("", "st")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// install runs install-like phases through the real runner, so the
// journal is what the runner writes; fail names a phase that fails.
func (h *testHost) install(fail map[string]bool) {
	h.t.Helper()
	write := func(rec phase.Recorder, p, data string, mode os.FileMode) error {
		_, err := h.root.WriteFile(rec, p, []byte(data), mode)
		return err
	}
	run := map[string]func(rec phase.Recorder) error{
		"runtime": func(rec phase.Recorder) error {
			if err := write(rec, containerd.ConfigPath, "version = 2\n", 0o644); err != nil {
				return err
			}
			if err := rec.Unit(containerd.UnitName); err != nil {
				return err
			}
			return rec.Set("containerd.version", "1.6.20")
		},
		"kubelet": func(rec phase.Recorder) error {
			if err := write(rec, "/usr/local/bin/kubelet", kubeletScript, 0o755); err != nil {
				return err
			}
			if err := write(rec, "/var/lib/kubelet/config.yaml", "kind: KubeletConfiguration\n", 0o644); err != nil {
				return err
			}
			if err := write(rec, "/etc/kubernetes/bootstrap-kubelet.conf", "token: abcdef."+testTokenSecret+"\n", 0o600); err != nil {
				return err
			}
			if err := rec.Unit("kubelet.service"); err != nil {
				return err
			}
			return rec.Set("kubelet.version", "1.35.4")
		},
		"join": func(rec phase.Recorder) error {
			if err := rec.Set(join.KeyLabels, `["example.com/rack","tke.cloud.tencent.com/location"]`); err != nil {
				return err
			}
			return rec.Set(join.KeyTaints, `["example.com/dedicated"]`)
		},
	}
	var phases []phase.Phase
	for _, n := range testPhaseNames {
		f := run[n]
		name := n
		phases = append(phases, phase.Phase{Name: n, Run: func(_ context.Context, rec phase.Recorder) error {
			if fail[name] {
				return os.ErrPermission
			}
			if f == nil {
				return nil
			}
			return f(rec)
		}})
	}
	_, _ = phase.Run(context.Background(), phases, phase.Options{Root: h.root.Dir})
}

func (h *testHost) writeFile(p string, data []byte, mode os.FileMode) {
	h.t.Helper()
	full := h.root.Path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(full, data, mode); err != nil {
		h.t.Fatal(err)
	}
}

func (h *testHost) writeLastRun(js string) { h.writeFile(userscript.ResultPath, []byte(js), 0o600) }

// versionServer is containerd's Version gRPC service.
type versionServer struct {
	versionapi.UnimplementedVersionServer
	version string
}

func (s versionServer) Version(context.Context, *emptypb.Empty) (*versionapi.VersionResponse, error) {
	return &versionapi.VersionResponse{Version: s.version, Revision: "test"}, nil
}

// startContainerd serves containerd's Version API on the root's socket,
// as the real daemon does, so the probe goes through the containerd client.
func (h *testHost) startContainerd(version string) {
	h.t.Helper()
	sock := h.root.Path(paths.ContainerdSocket)
	if err := os.MkdirAll(filepath.Dir(sock), 0o755); err != nil {
		h.t.Fatal(err)
	}
	_ = os.Remove(sock) // a stopped server's
	l, err := net.Listen("unix", sock)
	if err != nil {
		h.t.Fatal(err)
	}
	s := grpc.NewServer()
	versionapi.RegisterVersionServer(s, versionServer{version: version})
	done := make(chan struct{})
	go func() { _ = s.Serve(l); close(done) }()
	h.rtServer, h.rtDone = s, done
	h.t.Cleanup(h.stopContainerd)
}

// stopContainerd stops the server and waits for Serve to return: a Serve
// that starts after Stop closes (and unlinks) the socket path, which must
// not happen to the next server's socket.
func (h *testHost) stopContainerd() {
	h.rtServer.Stop()
	<-h.rtDone
}

func (h *testHost) deps() Deps {
	return Deps{
		Root:       h.root,
		Config:     h.cfg,
		NodeName:   "node-1",
		PhaseNames: testPhaseNames,
		Systemd:    func(context.Context) (systemd.Manager, error) { return h.systemd, nil },
		Components: withAgent(kubelet.Agent{HealthzURL: h.healthz.URL + "/healthz"}),
		NewNodeClient: func(host.Root, string, time.Duration) (kubeclient.Interface, error) {
			return h.api, nil
		},
		LocalTimeout: 2 * time.Second,
		APITimeout:   2 * time.Second,
	}
}

// setNode replaces the Node the fake API server returns.
func (h *testHost) setNode(change func(n *corev1.Node)) {
	h.t.Helper()
	change(h.node)
	if _, err := h.api.CoreV1().Nodes().Update(context.Background(), h.node, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// withAgent is the node's components with the kubelet asked at a test URL.
func withAgent(a component.Agent) component.Set {
	set := components.Default()
	set.Agent = a
	return set
}
