package preflight

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
)

// The ConfigMap through which a cluster publishes its CA to joining nodes
// (kubeadm's discovery): readable anonymously, its "kubeconfig" key holds
// the cluster, and the bootstrap signer adds a signature of that key per
// bootstrap token (jws-kubeconfig-<token id>).
const (
	ClusterInfoNamespace = "kube-public"
	ClusterInfoName      = "cluster-info"
	clusterInfoKey       = "kubeconfig"
	clusterInfoSigPrefix = "jws-kubeconfig-"
)

// DiscoveredCA is the cluster CA read from cluster-info and accepted by a
// pin of cluster.apiServer.caCertHashes.
type DiscoveredCA struct {
	// PEM is the CA bundle as cluster-info holds it.
	PEM []byte
	// Hash is the pin it matched.
	Hash string
	// Signed is true when cluster-info carried a signature for the
	// configured bootstrap token, and it verified.
	Signed bool
}

// caDiscovery reads cluster-info at most once per run: the
// api-server-reachable check proves the CA, and the preflight phase hands
// the same CA on to the kubelet.
type caDiscovery struct {
	once sync.Once
	ca   DiscoveredCA
	err  error
}

func (d *caDiscovery) get(ctx context.Context, in *Inputs, addr APIServerAddress) (DiscoveredCA, error) {
	d.once.Do(func() {
		api := in.Config.Cluster.APIServer
		d.ca, d.err = DiscoverCA(ctx, in.Dialer, addr, api.CACertHashes, in.Config.Cluster.BootstrapToken, in.Timeout)
	})
	return d.ca, d.err
}

// needsDiscovery: the configuration pins the CA but does not give it.
func needsDiscovery(api config.APIServer) bool {
	return strings.TrimSpace(api.CAData) == "" && len(api.CACertHashes) > 0
}

// DiscoveryError is a cluster-info that cannot be read or trusted.
type DiscoveryError struct {
	Reason string
	// Remedy tells the operator what to do.
	Remedy string
}

func (e *DiscoveryError) Error() string { return e.Reason }

// DiscoverCA reads kube-public/cluster-info anonymously from the API server
// at addr and returns its CA when one of the CA's certificates has a hash
// in pins. The connection is not verified up front (the CA is what it
// fetches), so the answer is believed only once the server's certificate
// verifies against the pinned CA. When cluster-info carries a signature for
// token's ID, it must verify with the token's secret.
func DiscoverCA(ctx context.Context, dialer Dialer, addr APIServerAddress, pins []string, token string, timeout time.Duration) (DiscoveredCA, error) {
	want, err := parsePins(pins)
	if err != nil {
		return DiscoveredCA{}, &DiscoveryError{Reason: err.Error(), Remedy: pinRemedy}
	}
	if len(addr.IPs) == 0 {
		return DiscoveredCA{}, fmt.Errorf("the API server %s has no address", addr.Host)
	}
	target := net.JoinHostPort(addr.IPs[0].String(), addr.Port)
	peer := &peerRecorder{}
	cfg := &rest.Config{
		Host:            "https://" + target,
		TLSClientConfig: rest.TLSClientConfig{Insecure: true, ServerName: addr.Host},
		Dial:            dialer.DialContext,
		Timeout:         timeout,
		UserAgent:       "add2tkectl",
		WrapTransport:   func(rt http.RoundTripper) http.RoundTripper { peer.next = rt; return peer },
	}
	cs, err := kubeclient.NewForConfig(cfg)
	where := ClusterInfoNamespace + "/" + ClusterInfoName
	if err != nil {
		return DiscoveredCA{}, fmt.Errorf("build a client for %s: %w", target, err)
	}
	cm, err := cs.ConfigMaps(ClusterInfoNamespace).Get(ctx, ClusterInfoName, metav1.GetOptions{})
	noDiscovery := "this cluster does not publish its CA for discovery: set cluster.apiServer.caData (base64 of the cluster CA) instead of caCertHashes, or publish " + where + " readable by system:anonymous as kubeadm does"
	switch {
	case apierrors.IsNotFound(err):
		return DiscoveredCA{}, &DiscoveryError{Reason: fmt.Sprintf("the API server at %s has no ConfigMap %s", target, where), Remedy: noDiscovery}
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return DiscoveredCA{}, &DiscoveryError{Reason: fmt.Sprintf("the API server at %s does not let an anonymous client read %s: %v", target, where, err), Remedy: noDiscovery}
	case err != nil:
		return DiscoveredCA{}, fmt.Errorf("read %s from %s: %w", where, target, err)
	}
	kc := cm.Data[clusterInfoKey]
	if kc == "" {
		return DiscoveredCA{}, &DiscoveryError{Reason: fmt.Sprintf("%s has no %q key", where, clusterInfoKey), Remedy: noDiscovery}
	}
	caPEM, err := clusterInfoCA([]byte(kc))
	if err != nil {
		return DiscoveredCA{}, &DiscoveryError{Reason: fmt.Sprintf("%s: %v", where, err), Remedy: noDiscovery}
	}
	certs, err := parseCerts(caPEM)
	if err != nil {
		return DiscoveredCA{}, &DiscoveryError{Reason: fmt.Sprintf("%s: the CA does not parse: %v", where, err), Remedy: noDiscovery}
	}
	got := DiscoveredCA{PEM: caPEM}
	var actual []string
	for _, c := range certs {
		h := SPKIHash(c)
		actual = append(actual, h)
		if want[h] && got.Hash == "" {
			got.Hash = h
		}
	}
	if got.Hash == "" {
		return DiscoveredCA{}, &TrustError{fmt.Sprintf("the cluster CA the API server at %s publishes in %s has hash %s, but cluster.apiServer.caCertHashes expects %s",
			target, where, strings.Join(actual, ", "), strings.Join(pins, " or "))}
	}
	roots := x509.NewCertPool()
	for _, c := range certs {
		roots.AddCert(c)
	}
	if err := peer.verify(roots, addr.Host); err != nil {
		return DiscoveredCA{}, &TrustError{fmt.Sprintf("the API server at %s serves a certificate the pinned CA did not issue: %v", target, err)}
	}
	id, secret, _ := strings.Cut(token, ".")
	if sig, ok := cm.Data[clusterInfoSigPrefix+id]; ok && id != "" {
		if err := verifyDetachedJWS(sig, []byte(kc), id, secret); err != nil {
			return DiscoveredCA{}, &TrustError{fmt.Sprintf("%s is signed for bootstrap token %s, but the signature does not verify with cluster.bootstrapToken (%v): the token is not this cluster's, or cluster-info was altered", where, id, err)}
		}
		got.Signed = true
	}
	return got, nil
}

// clusterInfoCA is the CA of the one cluster in cluster-info's kubeconfig.
func clusterInfoCA(kubeconfig []byte) ([]byte, error) {
	kc, err := clientcmd.Load(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig does not parse: %w", err)
	}
	if len(kc.Clusters) != 1 {
		return nil, fmt.Errorf("the kubeconfig has %d clusters, want 1", len(kc.Clusters))
	}
	for _, c := range kc.Clusters {
		if len(c.CertificateAuthorityData) == 0 {
			return nil, errors.New("the kubeconfig's cluster has no certificate-authority-data")
		}
		return c.CertificateAuthorityData, nil
	}
	return nil, nil
}

func parseCerts(pemData []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := pemData; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return out, nil
}

// peerRecorder keeps the certificates the server presented, to verify
// them once the CA is known.
type peerRecorder struct {
	next  http.RoundTripper
	mu    sync.Mutex
	certs []*x509.Certificate
}

func (p *peerRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := p.next.RoundTrip(r)
	if err == nil && resp.TLS != nil {
		p.mu.Lock()
		p.certs = resp.TLS.PeerCertificates
		p.mu.Unlock()
	}
	return resp, err
}

func (p *peerRecorder) verify(roots *x509.CertPool, serverName string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.certs) == 0 {
		return errors.New("it presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range p.certs[1:] {
		inter.AddCert(c)
	}
	_, err := p.certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: serverName})
	return err
}

// verifyDetachedJWS checks a compact JWS with a detached payload
// ("header..signature"), as the bootstrap signer writes it: HS256 keyed by
// the token's secret over the header and the payload, with the token's ID
// as the key ID.
func verifyDetachedJWS(jws string, payload []byte, id, secret string) error {
	parts := strings.Split(strings.TrimSpace(jws), ".")
	if len(parts) != 3 || parts[1] != "" {
		return errors.New("not a detached compact JWS")
	}
	rawHeader, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return fmt.Errorf("header: %w", err)
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if h.Alg != "HS256" {
		return fmt.Errorf("algorithm %q, want HS256", h.Alg)
	}
	if h.Kid != "" && h.Kid != id {
		return fmt.Errorf("key ID %q, want %q", h.Kid, id)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload)))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return errors.New("signature mismatch")
	}
	return nil
}
