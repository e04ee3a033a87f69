package join

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// journal is an in-memory phase.Recorder whose facts can be read back.
type journal struct {
	mu    sync.Mutex
	facts map[string]string
	sets  []string // keys in the order they were set
}

func newJournal() *journal { return &journal{facts: map[string]string{}} }

func (j *journal) File(string, string) error { return nil }
func (j *journal) Dir(string) error          { return nil }
func (j *journal) Unit(string) error         { return nil }
func (j *journal) Set(k, v string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.facts[k] = v
	j.sets = append(j.sets, k)
	return nil
}
func (j *journal) Get(k string) (string, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	v, ok := j.facts[k]
	return v, ok
}

func testConfig() *config.NodePoolJoin {
	return &config.NodePoolJoin{
		Cluster: config.Cluster{
			ID:             "cls-test",
			BootstrapToken: "abcdef.0123456789abcdef",
			APIServer:      config.APIServer{Endpoint: "https://10.0.0.5:443"},
		},
		NodePool: config.NodePool{
			ID:     "np-test",
			Labels: map[string]string{config.LabelLocation: "idc-sh-01"},
			Taints: []config.Taint{{Key: "key1", Value: "value1", Effect: "PreferNoSchedule"}},
		},
	}
}

// writeFile creates a host file under root for a test.
func writeFile(t testing.TB, root host.Root, p string, data []byte) {
	t.Helper()
	full := root.Path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// bootstrapped is a root where the kubelet has finished its TLS bootstrap.
func bootstrapped(t testing.TB) host.Root {
	root := host.Root{Dir: t.TempDir()}
	writeFile(t, root, BootstrapKubeconfig, []byte("bootstrap"))
	writeFile(t, root, paths.KubeletKubeconfig, []byte("kubelet"))
	writeFile(t, root, PKIDir+"/kubelet-client-2026-11-27-10-00-00.pem", []byte("pem"))
	writeFile(t, root, ClientCert, []byte("pem"))
	return root
}

// clients hands out fake clientsets by kubeconfig path.
func clients(byPath map[string]kubeclient.Interface) ClientFactory {
	return func(_ host.Root, p string, _ time.Duration) (kubeclient.Interface, error) {
		if c, ok := byPath[p]; ok {
			return c, nil
		}
		return nil, os.ErrNotExist
	}
}

func testDeps(t testing.TB, root host.Root, j *journal, f ClientFactory) Deps {
	log := logrus.New()
	log.SetOutput(testWriter{t})
	log.SetLevel(logrus.DebugLevel)
	return Deps{
		Root:      root,
		Log:       log,
		Config:    testConfig(),
		NodeName:  "n1",
		Timeout:   5 * time.Second,
		Fact:      j.Get,
		Backoff:   Backoff{First: time.Millisecond, Max: 5 * time.Millisecond},
		NewClient: f,
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

type nodeOpt func(*corev1.Node)

func ready(status corev1.ConditionStatus, reason, msg string) nodeOpt {
	return func(n *corev1.Node) {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason, Message: msg}}
	}
}

func withLabels(l map[string]string) nodeOpt { return func(n *corev1.Node) { n.Labels = l } }

func withTaints(ts ...corev1.Taint) nodeOpt { return func(n *corev1.Node) { n.Spec.Taints = ts } }

func testNode(name, uid string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid)}}
	for _, o := range opts {
		o(n)
	}
	return n
}

type hostRoot = host.Root

func emptyRoot(t testing.TB) host.Root { return host.Root{Dir: t.TempDir()} }
