package preflight

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// TrustError says the API server's certificate does not match the trust
// the configuration gives (caData or caCertHashes).
type TrustError struct{ Reason string }

func (e *TrustError) Error() string { return e.Reason }

// CAPool decodes caData: a base64-encoded PEM bundle (raw PEM is accepted
// too, as operators paste it).
func CAPool(caData string) (*x509.CertPool, error) {
	pemData := []byte(caData)
	if !strings.Contains(caData, "-----BEGIN") {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(caData), ""))
		if err != nil {
			return nil, fmt.Errorf("cluster.apiServer.caData is not base64: %w", err)
		}
		pemData = b
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("cluster.apiServer.caData holds no PEM certificate")
	}
	return pool, nil
}

// SPKIHash is the kubeadm-style pin of a certificate: "sha256:" and the hex
// sha256 of its DER SubjectPublicKeyInfo.
func SPKIHash(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// APIServerTLS returns the TLS configuration that trusts exactly what the
// configuration says: the chain must verify against caData for serverName,
// and when caCertHashes are given too, a certificate of the verified chain
// must have one of those hashes. With caCertHashes alone the CA comes from
// cluster-info (DiscoverCA) and is passed here as caData.
func APIServerTLS(api config.APIServer, serverName string) (*tls.Config, error) {
	if api.CAData == "" {
		if len(api.CACertHashes) == 0 {
			return nil, errors.New("the configuration has neither cluster.apiServer.caData nor caCertHashes: set one so the API server can be trusted")
		}
		return nil, errors.New("cluster.apiServer.caCertHashes pin the cluster CA, which is read from cluster-info first: no CA to verify the API server with yet")
	}
	pool, err := CAPool(api.CAData)
	if err != nil {
		return nil, err
	}
	pins, err := parsePins(api.CACertHashes)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// Verification is done below, by the configured trust only: the
		// system's roots have no say over a private cluster CA.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPeer(cs.PeerCertificates, serverName, pool, pins)
		},
	}, nil
}

// parsePins returns the set of caCertHashes, lower-cased.
func parsePins(hashes []string) (map[string]bool, error) {
	pins := map[string]bool{}
	for _, h := range hashes {
		h = strings.ToLower(strings.TrimSpace(h))
		if !strings.HasPrefix(h, "sha256:") || len(h) != len("sha256:")+64 {
			return nil, fmt.Errorf("cluster.apiServer.caCertHashes: %q is not sha256:<64 hex digits>", h)
		}
		if _, err := hex.DecodeString(h[len("sha256:"):]); err != nil {
			return nil, fmt.Errorf("cluster.apiServer.caCertHashes: %q is not sha256:<64 hex digits>", h)
		}
		pins[h] = true
	}
	return pins, nil
}

func verifyPeer(certs []*x509.Certificate, serverName string, pool *x509.CertPool, pins map[string]bool) error {
	if len(certs) == 0 {
		return &TrustError{"the API server presented no certificate"}
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: serverName})
	if err != nil {
		return &TrustError{fmt.Sprintf("the API server's certificate does not verify against cluster.apiServer.caData: %v", err)}
	}
	if len(pins) == 0 {
		return nil
	}
	for _, chain := range chains {
		for _, c := range chain {
			if pins[SPKIHash(c)] {
				return nil
			}
		}
	}
	return &TrustError{"the API server's certificate chain verifies against caData, but no certificate in it matches cluster.apiServer.caCertHashes"}
}
