package join

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
)

// ClientFactory builds an API client from a kubeconfig on the host. The
// network is a real boundary, so tests may substitute a fake clientset.
type ClientFactory func(root host.Root, kubeconfig string, timeout time.Duration) (kubeclient.Interface, error)

// NewClient is the production ClientFactory: client-go over HTTPS with the
// credentials of the kubeconfig, no discovery and no cache, so one call costs
// one request.
func NewClient(root host.Root, kubeconfig string, timeout time.Duration) (kubeclient.Interface, error) {
	cfg, err := RESTConfig(root, kubeconfig, timeout)
	if err != nil {
		return nil, err
	}
	cs, err := kubeclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("build API client from %s: %w", kubeconfig, err)
	}
	return cs, nil
}

// RESTConfig loads the kubeconfig at host path p. File references in it
// (the kubelet writes absolute paths to its certificate) are resolved under
// the root, so a client works for a host prepared in a directory too.
func RESTConfig(root host.Root, p string, timeout time.Duration) (*rest.Config, error) {
	full := root.Path(p)
	data, err := os.ReadFile(full)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig %s: %w", full, err)
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		return nil, fmt.Errorf("parse kubeconfig %s: %w; remove it so the kubelet bootstraps again", full, err)
	}
	dir := filepath.Dir(p)
	under := func(f string) string {
		if f == "" {
			return ""
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		return root.Path(f)
	}
	for _, c := range kc.Clusters {
		c.CertificateAuthority = under(c.CertificateAuthority)
	}
	for _, a := range kc.AuthInfos {
		a.ClientCertificate = under(a.ClientCertificate)
		a.ClientKey = under(a.ClientKey)
		a.TokenFile = under(a.TokenFile)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*kc, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w; remove it so the kubelet bootstraps again", full, err)
	}
	if err := inlineTLSFiles(cfg); err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w; remove it so the kubelet bootstraps again", full, err)
	}
	cfg.Timeout = timeout
	cfg.UserAgent = "add2tkectl"
	cfg.QPS, cfg.Burst = 20, 40
	return cfg, nil
}

// inlineTLSFiles reads the certificate files into the config. client-go
// caches a transport per file path and rereads the files only every few
// minutes, so after the kubelet bootstraps again (same paths, new
// certificate) a client built from paths would go on with the old one.
func inlineTLSFiles(cfg *rest.Config) error {
	for _, f := range []struct {
		path *string
		data *[]byte
	}{
		{&cfg.CertFile, &cfg.CertData},
		{&cfg.KeyFile, &cfg.KeyData},
		{&cfg.CAFile, &cfg.CAData},
	} {
		if *f.path == "" {
			continue
		}
		b, err := os.ReadFile(*f.path)
		if err != nil {
			return err
		}
		*f.data, *f.path = b, ""
	}
	return nil
}
