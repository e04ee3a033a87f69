// Package kubeclient is the API client add2tkectl talks to the cluster
// with: client-go's typed clients of the two API groups it calls (core for
// Nodes and the cluster-info ConfigMap, certificates for the kubelet's
// CSRs). client-go's full clientset linked every group's client and apply
// configurations, 9.0 MB of the stripped binary (make build, 57.6 MB before,
// 48.6 MB after), for calls no command makes.
package kubeclient

import (
	certificatesv1 "k8s.io/client-go/kubernetes/typed/certificates/v1"
	corev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// Interface is the part of client-go's clientset add2tkectl uses; the
// clientset (and its fake, in tests) satisfies it.
type Interface interface {
	CoreV1() corev1.CoreV1Interface
	CertificatesV1() certificatesv1.CertificatesV1Interface
}

// Client is the production Interface.
type Client struct {
	core  *corev1.CoreV1Client
	certs *certificatesv1.CertificatesV1Client
}

// NewForConfig builds both group clients over one HTTP client, so they
// share the connection to the API server.
func NewForConfig(cfg *rest.Config) (*Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	core, err := corev1.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	certs, err := certificatesv1.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	return &Client{core: core, certs: certs}, nil
}

func (c *Client) CoreV1() corev1.CoreV1Interface { return c.core }

func (c *Client) CertificatesV1() certificatesv1.CertificatesV1Interface { return c.certs }
