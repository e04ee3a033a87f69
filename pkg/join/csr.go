package join

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// diagnoseBootstrap says why the TLS bootstrap has not finished. The
// bootstrap token's group may read certificate signing requests (kubeadm's
// system:node-bootstrapper role), so it looks at the node's newest CSR.
func (j *joiner) diagnoseBootstrap() string {
	if !exists(j.d.Root.Path(BootstrapKubeconfig)) {
		return fmt.Sprintf("no bootstrap kubeconfig %s: the kubelet phase has not written it", BootstrapKubeconfig)
	}
	if exists(j.d.Root.Path(ClientCert)) {
		return fmt.Sprintf("the kubelet has a client certificate but has not written %s yet", paths.KubeletKubeconfig)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := j.d.client(BootstrapKubeconfig, 5*time.Second)
	if err != nil {
		return fmt.Sprintf("no client certificate yet, and the bootstrap kubeconfig is unusable: %v", err)
	}
	list, err := c.CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsUnauthorized(err):
		return "the API server rejects the bootstrap token (401): it has expired or was deleted; get a new one from the console"
	case apierrors.IsForbidden(err):
		return "no client certificate yet: the CSR is not approved/signed (the bootstrap token may not list CSRs to say more; see kubectl get csr)"
	case err != nil:
		return fmt.Sprintf("no client certificate yet: the CSR is not approved/signed (cannot list CSRs: %v)", err)
	}
	return describeCSR(newestNodeCSR(list.Items, j.d.NodeName), j.d.NodeName)
}

// newestNodeCSR picks the newest kubelet client CSR for the node.
func newestNodeCSR(csrs []certificatesv1.CertificateSigningRequest, node string) *certificatesv1.CertificateSigningRequest {
	var best *certificatesv1.CertificateSigningRequest
	for i := range csrs {
		c := &csrs[i]
		if c.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName || csrCommonName(c.Spec.Request) != "system:node:"+node {
			continue
		}
		if best == nil || best.CreationTimestamp.Before(&c.CreationTimestamp) {
			best = c
		}
	}
	return best
}

func csrCommonName(request []byte) string {
	block, _ := pem.Decode(request)
	if block == nil {
		return ""
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return ""
	}
	return req.Subject.CommonName
}

// describeCSR states where the CSR is in its life: pending, denied, failed,
// approved but unsigned, or issued.
func describeCSR(c *certificatesv1.CertificateSigningRequest, node string) string {
	if c == nil {
		return fmt.Sprintf("no certificate signing request from node %s yet: is the kubelet running (systemctl status kubelet)?", node)
	}
	approved := false
	for _, cond := range c.Status.Conditions {
		if cond.Status == corev1.ConditionFalse {
			continue
		}
		switch cond.Type {
		case certificatesv1.CertificateDenied:
			return fmt.Sprintf("CSR %s was denied (%s %s): ask a cluster administrator why", c.Name, cond.Reason, cond.Message)
		case certificatesv1.CertificateFailed:
			return fmt.Sprintf("CSR %s failed (%s %s)", c.Name, cond.Reason, cond.Message)
		case certificatesv1.CertificateApproved:
			approved = true
		}
	}
	switch {
	case !approved:
		return fmt.Sprintf("CSR pending: %s awaits approval (kubectl certificate approve %s)", c.Name, c.Name)
	case len(c.Status.Certificate) == 0:
		return fmt.Sprintf("CSR %s is approved but not signed yet: is the controller manager's csrsigning controller running?", c.Name)
	}
	return fmt.Sprintf("CSR %s is signed but the kubelet has not written its client certificate yet", c.Name)
}
