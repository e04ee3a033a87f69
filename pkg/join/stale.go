package join

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// DetectStaleCredentials reports whether the kubelet's credentials on the host
// come from an earlier join and would keep it from joining now: a client
// certificate without kubelet.conf, a kubelet.conf for another API server or
// node name, an expired certificate, or one the API server rejects (401).
// Call it before the kubelet starts; stale ones go with RemoveStaleCredentials
// so the kubelet bootstraps again with the bootstrap token. An API server that
// does not answer is not evidence of staleness: reason is then "".
func DetectStaleCredentials(ctx context.Context, d Deps) (reason string, err error) {
	if err := d.check(); err != nil {
		return "", err
	}
	certs, err := clientCertFiles(d.Root)
	if err != nil {
		return "", err
	}
	kcPath := d.Root.Path(paths.KubeletKubeconfig)
	data, err := os.ReadFile(kcPath)
	if errors.Is(err, fs.ErrNotExist) {
		if len(certs) > 0 {
			return fmt.Sprintf("client certificates in %s without %s", PKIDir, paths.KubeletKubeconfig), nil
		}
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", kcPath, err)
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		return fmt.Sprintf("%s does not parse: %v", paths.KubeletKubeconfig, err), nil
	}
	if ctxName := kc.CurrentContext; ctxName != "" && kc.Contexts[ctxName] != nil {
		if cl := kc.Clusters[kc.Contexts[ctxName].Cluster]; cl != nil && d.Config.Cluster.APIServer.Endpoint != "" &&
			!sameServer(cl.Server, d.Config.Cluster.APIServer.Endpoint) {
			return fmt.Sprintf("%s points at %s, the configuration at %s", paths.KubeletKubeconfig, cl.Server, d.Config.Cluster.APIServer.Endpoint), nil
		}
	}
	cfg, err := RESTConfig(d.Root, paths.KubeletKubeconfig, SatisfiedTimeout)
	if err != nil {
		return err.Error(), nil
	}
	if cfg.CertData == nil && cfg.CertFile == "" {
		return "", nil // not a certificate: leave it to the API server to judge
	}
	certPEM := cfg.CertData
	if certPEM == nil {
		if certPEM, err = os.ReadFile(cfg.CertFile); err != nil {
			return fmt.Sprintf("%s names a client certificate that cannot be read: %v", paths.KubeletKubeconfig, err), nil
		}
	}
	cert, err := firstCert(certPEM)
	if err != nil {
		return fmt.Sprintf("the kubelet's client certificate does not parse: %v", err), nil
	}
	if want := "system:node:" + d.NodeName; cert.Subject.CommonName != want {
		return fmt.Sprintf("the kubelet's client certificate is for %s, not %s", cert.Subject.CommonName, want), nil
	}
	if time.Now().After(cert.NotAfter) {
		return fmt.Sprintf("the kubelet's client certificate expired at %s", cert.NotAfter.UTC().Format(time.RFC3339)), nil
	}
	c, err := d.client(paths.KubeletKubeconfig, SatisfiedTimeout)
	if err != nil {
		return err.Error(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, SatisfiedTimeout)
	defer cancel()
	_, err = c.Nodes().Get(ctx, d.NodeName, metav1.GetOptions{})
	if apierrors.IsUnauthorized(err) {
		return "the API server rejects the kubelet's client certificate (401)", nil
	}
	return "", nil
}

// RemoveStaleCredentials removes kubelet.conf and the kubelet's client
// certificates, so that the kubelet's next start bootstraps with the token.
func RemoveStaleCredentials(root host.Root) error {
	certs, err := clientCertFiles(root)
	if err != nil {
		return err
	}
	for _, p := range append([]string{root.Path(paths.KubeletKubeconfig)}, certs...) {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale kubelet credentials %s: %w", p, err)
		}
	}
	return nil
}

// clientCertFiles lists the kubelet's client certificates: the rotated ones
// and the kubelet-client-current.pem link to the newest.
func clientCertFiles(root host.Root) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(root.Path(PKIDir), "kubelet-client-*.pem"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", root.Path(PKIDir), err)
	}
	return m, nil
}

func firstCert(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no CERTIFICATE block")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// sameServer compares API server URLs as addresses: https://h and
// https://h:443/ are the same server, so a cosmetic difference never makes
// good credentials look stale. Unparsable URLs compare as the same.
func sameServer(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil {
		return true
	}
	norm := func(u *url.URL) string {
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
		}
		return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port + strings.TrimRight(u.Path, "/")
	}
	return norm(ua) == norm(ub)
}
