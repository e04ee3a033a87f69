package join

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// csrFor is a kubelet client CSR as the kubelet makes it for node.
func csrFor(t testing.TB, node, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.Now()},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Username:   "system:bootstrap:abcdef",
		},
	}
}

func deniedCond() certificatesv1.CertificateSigningRequestCondition {
	return certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateDenied, Status: corev1.ConditionTrue, Reason: "AdminDenied", Message: "not this host"}
}

func TestDescribeCSR(t *testing.T) {
	approved := certificatesv1.CertificateSigningRequestCondition{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}
	withConds := func(cs ...certificatesv1.CertificateSigningRequestCondition) *certificatesv1.CertificateSigningRequest {
		c := csrFor(t, "n1", "csr-1")
		c.Status.Conditions = cs
		return c
	}
	issued := withConds(approved)
	issued.Status.Certificate = []byte("cert")
	for _, tt := range []struct {
		name string
		csr  *certificatesv1.CertificateSigningRequest
		want string
	}{
		{"none", nil, "no certificate signing request from node n1 yet"},
		{"pending", withConds(), "CSR pending: csr-1 awaits approval (kubectl certificate approve csr-1)"},
		{"approved, unsigned", withConds(approved), "CSR csr-1 is approved but not signed yet"},
		{"issued", issued, "CSR csr-1 is signed but the kubelet has not written"},
		{"denied", withConds(deniedCond()), "CSR csr-1 was denied (AdminDenied not this host)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeCSR(tt.csr, "n1"); len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
				t.Errorf("describeCSR = %q, want prefix %q", got, tt.want)
			}
		})
	}
}

func TestNewestNodeCSRPicksTheNodesNewest(t *testing.T) {
	old := csrFor(t, "n1", "old")
	old.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Hour))
	other := csrFor(t, "n2", "other")
	newest := csrFor(t, "n1", "newest")
	serving := csrFor(t, "n1", "serving")
	serving.Spec.SignerName = certificatesv1.KubeletServingSignerName
	serving.CreationTimestamp = metav1.NewTime(time.Now().Add(time.Hour))
	got := newestNodeCSR([]certificatesv1.CertificateSigningRequest{*old, *other, *newest, *serving}, "n1")
	if got == nil || got.Name != "newest" {
		t.Errorf("newestNodeCSR = %v, want newest", got)
	}
}
