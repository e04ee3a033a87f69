//go:build e2e

package join

// These tests run Run, Satisfied, Status and DetectStaleCredentials against
// the real kube-apiserver and kube-controller-manager of scripts/e2e (TLS
// bootstrap with the real bootstrap token, NodeRestriction, the CSR approver
// and signer). The test acts as the kubelet: it makes the CSR and creates
// and updates its own Node with its own certificate. Run inside the driver
// network namespace:
//
//	go test -tags e2e -c -o /tmp/join.test ./pkg/join &&
//	  ip netns exec a2t-e2e env A2T_E2E_STATE=/var/run/add2tkectl-e2e /tmp/join.test -test.run Real -test.v

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

type realEnv struct {
	state  string
	admin  kubernetes.Interface
	server string
	caPEM  []byte
}

func needRealAPI(t *testing.T) *realEnv {
	state := os.Getenv("A2T_E2E_STATE")
	if state == "" {
		t.Skip("A2T_E2E_STATE not set: run inside the e2e driver namespace (see the file comment)")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(state, "admin.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(filepath.Join(state, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	return &realEnv{state: state, admin: admin, server: cfg.Host, caPEM: ca}
}

// kubeletClient is the client the test acts as the kubelet with: client-go's
// clientset (creating CSRs and Nodes is the kubelet's part, not ours) with
// the credentials add2tkectl would read.
func kubeletClient(t *testing.T, root host.Root, kubeconfig string) kubernetes.Interface {
	t.Helper()
	cfg, err := RESTConfig(root, kubeconfig, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// bootstrapLikeTheKubelet makes the kubelet's client CSR with the bootstrap
// token, waits for the controller manager to approve and sign it, and writes
// kubelet-client-current.pem and kubelet.conf as the kubelet does.
func bootstrapLikeTheKubelet(t *testing.T, e *realEnv, root host.Root, node string) {
	t.Helper()
	boot := kubeletClient(t, root, BootstrapKubeconfig)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	csr, err := boot.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "node-csr-"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.admin.CertificatesV1().CertificateSigningRequests().Delete(context.Background(), csr.Name, metav1.DeleteOptions{})
	})
	var cert []byte
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := poll(wctx, Backoff{First: 50 * time.Millisecond, Max: time.Second}, func(ctx context.Context) (bool, error) {
		c, err := boot.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err == nil && len(c.Status.Certificate) > 0 {
			cert = c.Status.Certificate
			return true, nil
		}
		return false, nil
	}); err != nil {
		t.Fatalf("CSR %s not signed: %v", csr.Name, err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	kubeletConf(t, root, e.server, e.caPEM, append(cert, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})...))
}

func TestRealJoin(t *testing.T) {
	e := needRealAPI(t)
	ctx := context.Background()
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	node := "join-proof-" + hex.EncodeToString(suffix)
	t.Cleanup(func() { _ = e.admin.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })

	root := emptyRoot(t)
	boot, err := os.ReadFile(filepath.Join(e.state, "bootstrap.kubeconfig"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, BootstrapKubeconfig, boot)
	j := newJournal()
	d := testDeps(t, root, j, nil)
	d.NodeName = node
	d.Config.Cluster.APIServer.Endpoint = e.server
	d.Config.NodePool.Cordon = true
	d.Config.NodePool.Labels = map[string]string{config.LabelLocation: "idc-e2e", "pool.example.com/tier": "gold"}
	d.Config.NodePool.Taints = []config.Taint{{Key: "key1", Value: "value1", Effect: "PreferNoSchedule"}}
	d.Backoff = Backoff{First: 50 * time.Millisecond, Max: 500 * time.Millisecond}

	// 1. No CSR yet: the bootstrap token may list CSRs, so the step says so.
	d.Timeout = time.Second
	_, err = Run(ctx, d, j)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Step != StepBootstrap || !strings.Contains(te.Reason, "no certificate signing request from node "+node) {
		t.Fatalf("before the CSR: Run = %v", err)
	}
	t.Logf("before the CSR: %v", err)

	// 2. Bootstrapped, no Node yet.
	bootstrapLikeTheKubelet(t, e, root, node)
	_, err = Run(ctx, d, j)
	if !errors.As(err, &te) || te.Step != StepRegister || !strings.Contains(te.Reason, "node not registered") {
		t.Fatalf("before the Node: Run = %v", err)
	}
	t.Logf("before the Node: %v", err)

	// 3. The kubelet registers its Node, NotReady, with an old taint value and
	// a label the pool applied before and no longer configures.
	nc := kubeletClient(t, root, paths.KubeletKubeconfig)
	if _, err := nc.CoreV1().Nodes().Create(ctx, &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{
			config.LabelLocation: "idc-e2e", "pool.example.com/old": "x", "admin.example.com/keep": "y"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "key1", Value: "old", Effect: corev1.TaintEffectPreferNoSchedule}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	j.Set(KeyLabels, `["pool.example.com/old","tke.cloud.tencent.com/location"]`)
	// As the kubelet posts its status: a patch of the status subresource
	// (an update would resend taints the controllers changed meanwhile).
	setReady := func(status corev1.ConditionStatus, reason, msg string) {
		now := metav1.Now()
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{
			"conditions": []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}},
			"addresses":  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.77.0.99"}},
		}})
		if _, err := nc.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			t.Error(err)
		}
	}
	setReady(corev1.ConditionFalse, "KubeletNotReady", "container runtime network not ready: cni plugin not initialized")

	// 4. Run cordons and labels while NotReady; Ready follows the cordon.
	d.Timeout = 60 * time.Second
	done := make(chan struct{})
	go func() {
		defer close(done)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_ = poll(wctx, Backoff{First: 20 * time.Millisecond, Max: 200 * time.Millisecond}, func(ctx context.Context) (bool, error) {
			n, err := e.admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			return err == nil && n.Spec.Unschedulable, nil
		})
		setReady(corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	}()
	res, err := Run(ctx, d, j)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.FirstJoin || !res.Cordoned || !n.Spec.Unschedulable {
		t.Errorf("not cordoned at first join: %+v", res)
	}
	if n.Labels["pool.example.com/tier"] != "gold" || n.Labels["admin.example.com/keep"] != "y" {
		t.Errorf("labels = %v", n.Labels)
	}
	if _, ok := n.Labels["pool.example.com/old"]; ok {
		t.Errorf("dropped pool label survived: %v", n.Labels)
	}
	if len(res.TaintDrift.Missing) != 1 || len(res.TaintDrift.Unexpected) != 1 {
		t.Errorf("taint drift = %+v", res.TaintDrift)
	}
	t.Logf("first join: %+v", res)

	// 5. The user script uncordons with the node's credentials; a re-run
	// leaves it so and is satisfied.
	if _, err := nc.CoreV1().Nodes().Patch(ctx, node, "application/merge-patch+json", []byte(`{"spec":{"unschedulable":false}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ok, err := Satisfied(ctx, d)
	took := time.Since(start)
	if err != nil || !ok {
		t.Fatalf("Satisfied after join = %v, %v", ok, err)
	}
	t.Logf("Satisfied against the real API server took %s", took)
	res, err = Run(ctx, d, j)
	if err != nil || res.Changed || res.Cordoned {
		t.Errorf("re-run: %+v, %v", res, err)
	}
	if n, _ := e.admin.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{}); n.Spec.Unschedulable {
		t.Error("the re-run cordoned the Node again")
	}
	st, err := Status(ctx, root, node, 0, nil)
	if err != nil || !st.Ready || st.InternalIP != "10.77.0.99" || st.Unschedulable {
		t.Errorf("Status = %+v, %v", st, err)
	}

	// 6. Credentials from another CA: the real API server answers 401.
	if reason, err := DetectStaleCredentials(ctx, d); err != nil || reason != "" {
		t.Errorf("good credentials judged stale: %q, %v", reason, err)
	}
	other := newCA(t)
	kubeletConf(t, root, e.server, e.caPEM, other.issue(t, "system:node:"+node, time.Now().Add(time.Hour), false))
	reason, err := DetectStaleCredentials(ctx, d)
	if _, serr := Status(ctx, root, node, 0, nil); serr != nil {
		t.Logf("Status with the other CA's certificate: %v", serr)
	}
	if err != nil || !strings.Contains(reason, "(401)") {
		t.Errorf("credentials of another CA: %q, %v", reason, err)
	}
}
