package join

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// ca is a test certificate authority.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t testing.TB) *ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate followed by its key, as the kubelet
// stores kubelet-client-current.pem.
func (c *ca) issue(t testing.TB, cn string, notAfter time.Time, server bool) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...)
}

// apiServer answers GET /api/v1/nodes/NAME over TLS as kube-apiserver does
// for a node: 401 for a client certificate it does not trust, 404 for a
// missing Node. It counts the requests.
type apiServer struct {
	*httptest.Server
	ca       *ca
	mu       sync.Mutex
	nodes    map[string]*corev1.Node
	requests atomic.Int64
}

func newAPIServer(t testing.TB) *apiServer {
	s := &apiServer{ca: newCA(t), nodes: map[string]*corev1.Node{}}
	pool := x509.NewCertPool()
	pool.AddCert(s.ca.cert)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if len(r.TLS.PeerCertificates) == 0 {
			status(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		if _, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			status(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		name, ok := strings.CutPrefix(r.URL.Path, "/api/v1/nodes/")
		if !ok || r.Method != http.MethodGet {
			status(w, http.StatusNotFound, "NotFound")
			return
		}
		s.mu.Lock()
		n := s.nodes[name]
		s.mu.Unlock()
		if n == nil {
			status(w, http.StatusNotFound, "NotFound")
			return
		}
		_ = json.NewEncoder(w).Encode(n)
	}))
	serving := s.ca.issue(t, "kube-apiserver", time.Now().Add(time.Hour), true)
	cert, err := tls.X509KeyPair(serving, serving)
	if err != nil {
		t.Fatal(err)
	}
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func status(w http.ResponseWriter, code int, reason string) {
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Reason: metav1.StatusReason(reason), Code: int32(code), Message: reason,
	})
}

func (s *apiServer) put(n *corev1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n.APIVersion, n.Kind = "v1", "Node"
	s.nodes[n.Name] = n
}

// kubeletConf writes kubelet.conf as the kubelet does after its TLS
// bootstrap: the CA inline, the client certificate by absolute path.
func kubeletConf(t testing.TB, root host.Root, server string, caPEM, clientPEM []byte) {
	writeFile(t, root, ClientCert, clientPEM)
	writeFile(t, root, paths.KubeletKubeconfig, []byte(`apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: `+base64.StdEncoding.EncodeToString(caPEM)+`
    server: `+server+`
  name: default-cluster
contexts:
- context:
    cluster: default-cluster
    namespace: default
    user: default-auth
  name: default-context
current-context: default-context
users:
- name: default-auth
  user:
    client-certificate: `+ClientCert+`
    client-key: `+ClientCert+`
`))
}

// joinedHost is a host whose kubelet joined s as n1, Ready, with the pool's
// labels, and whose journal has the join on record.
func joinedHost(t testing.TB, s *apiServer) (Deps, *journal) {
	root := emptyRoot(t)
	kubeletConf(t, root, s.URL, s.ca.pem, s.ca.issue(t, "system:node:n1", time.Now().Add(time.Hour), false))
	j := newJournal()
	d := testDeps(t, root, j, nil)
	d.Config.Cluster.APIServer.Endpoint = s.URL
	s.put(testNode("n1", "uid-1", ready(corev1.ConditionTrue, "KubeletReady", ""),
		withLabels(d.Config.NodePool.Labels), withTaints(configuredTaint),
		func(n *corev1.Node) {
			n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "n1"}, {Type: corev1.NodeInternalIP, Address: "10.77.0.11"}}
		}))
	j.Set(KeyNodeUID, "uid-1")
	j.Set(KeyLabels, `["tke.cloud.tencent.com/location"]`)
	return d, j
}

func TestSatisfiedOverHTTPSWithOneRequest(t *testing.T) {
	s := newAPIServer(t)
	d, _ := joinedHost(t, s)
	before := s.requests.Load()
	ok, err := Satisfied(context.Background(), d)
	if err != nil || !ok {
		t.Fatalf("Satisfied = %v, %v; want true", ok, err)
	}
	if n := s.requests.Load() - before; n != 1 {
		t.Errorf("Satisfied made %d requests, want exactly 1 (no discovery)", n)
	}

	// A NotReady Node (a rebooted kubelet's) is still joined as configured:
	// AwaitReady waits for it, and a re-run changes nothing.
	s.put(testNode("n1", "uid-1", ready(corev1.ConditionFalse, "KubeletNotReady", "PLEG is not healthy"), withLabels(d.Config.NodePool.Labels)))
	if ok, err := Satisfied(context.Background(), d); err != nil || !ok {
		t.Errorf("Satisfied for a NotReady Node = %v, %v; want true (AwaitReady waits for Ready)", ok, err)
	}
	d.Timeout = 300 * time.Millisecond
	err = AwaitReady(context.Background(), d)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Step != StepReady || !strings.Contains(te.Reason, "PLEG is not healthy") {
		t.Errorf("AwaitReady on a NotReady Node = %v, want a timeout at the Ready step naming the kubelet's reason", err)
	}
	d.Timeout = 10 * time.Second
	go func() {
		time.Sleep(200 * time.Millisecond)
		s.put(testNode("n1", "uid-1", ready(corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"), withLabels(d.Config.NodePool.Labels)))
	}()
	if err := AwaitReady(context.Background(), d); err != nil {
		t.Errorf("AwaitReady once the Node turns Ready: %v", err)
	}
}

func TestRunOverHTTPSWithTheNodesCertificate(t *testing.T) {
	s := newAPIServer(t)
	d, j := joinedHost(t, s)
	res, err := Run(context.Background(), d, j)
	if err != nil {
		t.Fatal(err)
	}
	if res.UID != "uid-1" || res.Changed || !res.TaintDrift.Empty() {
		t.Errorf("Run on a joined host = %+v; want nothing changed", res)
	}
}

func TestStatusReadsTheNode(t *testing.T) {
	s := newAPIServer(t)
	d, _ := joinedHost(t, s)
	st, err := Status(context.Background(), d.Root, "n1", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Registered || !st.Ready || st.InternalIP != "10.77.0.11" || st.Labels["tke.cloud.tencent.com/location"] != "idc-sh-01" ||
		len(st.Taints) != 1 || st.Taints[0].Key != "key1" || st.Unschedulable {
		t.Errorf("Status = %+v", st)
	}
	if _, err := Status(context.Background(), emptyRoot(t), "n1", 0, nil); err != ErrNotJoined {
		t.Errorf("Status of a bare host = %v, want ErrNotJoined", err)
	}
	st, err = Status(context.Background(), d.Root, "n2", 0, nil)
	if err != nil || st.Registered || st.Reason != "node not registered" {
		t.Errorf("Status of an unregistered node = %+v, %v", st, err)
	}
}

func TestDetectStaleCredentials(t *testing.T) {
	s := newAPIServer(t)
	other := newCA(t)
	tests := []struct {
		name  string
		setup func(t *testing.T, d *Deps)
		stale string // substring of the reason; "" means not stale
	}{
		{"fresh host", func(t *testing.T, d *Deps) { d.Root = emptyRoot(t) }, ""},
		{"joined and accepted", func(*testing.T, *Deps) {}, ""},
		{"same server written differently", func(t *testing.T, d *Deps) {
			d.Config.Cluster.APIServer.Endpoint = strings.Replace(s.URL, "127.0.0.1", "127.0.0.1", 1) + "/"
		}, ""},
		{"certificate without kubelet.conf", func(t *testing.T, d *Deps) {
			d.Root = emptyRoot(t)
			writeFile(t, d.Root, PKIDir+"/kubelet-client-2025-01-01-00-00-00.pem", []byte("old"))
		}, "without " + paths.KubeletKubeconfig},
		{"another API server", func(t *testing.T, d *Deps) {
			d.Config.Cluster.APIServer.Endpoint = "https://10.9.9.9:6443"
		}, "points at"},
		{"another node name", func(t *testing.T, d *Deps) { d.NodeName = "n2" }, "is for system:node:n1, not system:node:n2"},
		{"expired certificate", func(t *testing.T, d *Deps) {
			kubeletConf(t, d.Root, s.URL, s.ca.pem, s.ca.issue(t, "system:node:n1", time.Now().Add(-time.Minute), false))
		}, "expired"},
		{"certificate of another cluster (401)", func(t *testing.T, d *Deps) {
			kubeletConf(t, d.Root, s.URL, s.ca.pem, other.issue(t, "system:node:n1", time.Now().Add(time.Hour), false))
		}, "(401)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := joinedHost(t, s)
			tt.setup(t, &d)
			reason, err := DetectStaleCredentials(context.Background(), d)
			if err != nil {
				t.Fatal(err)
			}
			if tt.stale == "" && reason != "" || tt.stale != "" && !strings.Contains(reason, tt.stale) {
				t.Errorf("DetectStaleCredentials = %q, want %q", reason, tt.stale)
			}
		})
	}
}

// The kubelet bootstraps again into the same paths; a client built in the
// same process afterwards must use the new certificate, not a cached one.
func TestNewClientSeesCredentialsRewrittenInPlace(t *testing.T) {
	s := newAPIServer(t)
	d, _ := joinedHost(t, s)
	if reason, err := DetectStaleCredentials(context.Background(), d); err != nil || reason != "" {
		t.Fatalf("good credentials: %q, %v", reason, err)
	}
	kubeletConf(t, d.Root, s.URL, s.ca.pem, newCA(t).issue(t, "system:node:n1", time.Now().Add(time.Hour), false))
	if reason, _ := DetectStaleCredentials(context.Background(), d); !strings.Contains(reason, "(401)") {
		t.Errorf("after the certificate was replaced by one of another CA: %q, want a 401", reason)
	}
	kubeletConf(t, d.Root, s.URL, s.ca.pem, s.ca.issue(t, "system:node:n1", time.Now().Add(time.Hour), false))
	if ok, err := Satisfied(context.Background(), d); err != nil || !ok {
		t.Errorf("after a fresh certificate: Satisfied = %v, %v", ok, err)
	}
}

func TestRemoveStaleCredentialsKeepsTheBootstrapKubeconfig(t *testing.T) {
	root := bootstrapped(t)
	writeFile(t, root, PKIDir+"/kubelet.crt", []byte("serving"))
	if err := RemoveStaleCredentials(root); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		paths.KubeletKubeconfig: false, ClientCert: false, PKIDir + "/kubelet-client-2026-11-27-10-00-00.pem": false,
		BootstrapKubeconfig: true, PKIDir + "/kubelet.crt": true,
	} {
		if exists(root.Path(p)) != want {
			t.Errorf("%s present = %v, want %v", p, !want, want)
		}
	}
	if err := RemoveStaleCredentials(root); err != nil {
		t.Errorf("second removal: %v", err)
	}
}

// BenchmarkSatisfied measures the check a re-run of install pays for the
// join phase: client from kubelet.conf plus one GET over TLS on loopback.
func BenchmarkSatisfied(b *testing.B) {
	s := newAPIServer(b)
	d, _ := joinedHost(b, s)
	d.Log = nil
	for b.Loop() {
		if ok, err := Satisfied(context.Background(), d); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// The Node Satisfied read answers ReadyNow, with no request of its own:
// Ready when its kubelet reports Ready, not when it reports NotReady.
func TestReadyNowReadsTheNodeSatisfiedRead(t *testing.T) {
	s := newAPIServer(t)
	d, _ := joinedHost(t, s)
	for _, c := range []struct {
		status corev1.ConditionStatus
		want   bool
	}{{corev1.ConditionTrue, true}, {corev1.ConditionFalse, false}} {
		s.put(testNode("n1", "uid-1", ready(c.status, "KubeletReady", "status"), withLabels(d.Config.NodePool.Labels)))
		ok, n, err := SatisfiedNode(context.Background(), d)
		if err != nil || !ok || n == nil {
			t.Fatalf("SatisfiedNode = %v, %v, %v; want the Node", ok, n, err)
		}
		before := s.requests.Load()
		if got := ReadyNow(context.Background(), d, n); got != c.want {
			t.Errorf("ReadyNow of a Node whose Ready is %s = %v, want %v", c.status, got, c.want)
		}
		if r := s.requests.Load() - before; r != 0 {
			t.Errorf("ReadyNow made %d requests, want none", r)
		}
	}
}
