package preflight

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// startVersionServer is an API server whose /version answers gitVersion
// (status when not 200), on a certificate of the cluster CA.
func startVersionServer(t *testing.T, cert tls.Certificate, status int, gitVersion string) *apiServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/version":
			w.WriteHeader(http.StatusNotFound)
			return
		case status != http.StatusOK:
			w.WriteHeader(status)
			return
		}
		io.WriteString(w, `{"major":"1","gitVersion":"`+gitVersion+`","platform":"linux/amd64"}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &apiServer{srv: srv, dialer: &redirectDialer{from: "10.0.0.5:443", to: srv.Listener.Addr().String()}}
}

func TestKubeletVersionIsNeverNewerThanTheAPIServer(t *testing.T) {
	clusterCA := newCA(t, "cluster-ca")
	cases := []struct {
		name, kubelet, server string
		status                int
		verdict               Verdict
		says                  string
	}{
		{"same minor", "1.35.4", "v1.35.4", 200, OK, "kubelet 1.35.4, API server v1.35.4"},
		{"one minor older", "1.34.2", "v1.35.4", 200, OK, "API server v1.35.4"},
		{"a vendor suffix", "1.35.4", "v1.35.4-tke.2", 200, OK, "v1.35.4-tke.2"},
		{"newer patch of the same minor", "1.35.9", "v1.35.4", 200, OK, "kubelet 1.35.9"},
		{"one minor newer", "1.36.0", "v1.35.4", 200, Error, "newer than the API server's v1.35.4"},
		{"four minors older", "1.31.1", "v1.35.4", 200, Warning, "4 minors older"},
		{"version hidden", "1.35.4", "", http.StatusForbidden, Warning, "HTTP 403"},
		{"not a version", "1.35.4", "banana", 200, Warning, "not a Kubernetes 1.x version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := startVersionServer(t, clusterCA.serving(t, "10.0.0.5", false), c.status, c.server)
			in := apiInputs(t, s)
			in.Config.Cluster.APIServer.CAData = b64(clusterCA.pem)
			in.Config.Cluster.KubernetesVersion = c.kubelet
			r := runCheck(t, checkKubeletVersion, in)
			if r.Verdict != c.verdict || !strings.Contains(r.Message, c.says) {
				t.Errorf("got %s %q; want %s saying %q", r.Verdict, r.Message, c.verdict, c.says)
			}
			if c.verdict == Error && !strings.Contains(r.Remediation, "control plane first") {
				t.Errorf("remedy %q does not say to upgrade the control plane first", r.Remediation)
			}
		})
	}
}

// The version is read over a verified connection only: another CA's
// server is not believed.
func TestKubeletVersionTrustsOnlyTheClusterCA(t *testing.T) {
	s := startVersionServer(t, newCA(t, "someone-else").serving(t, "10.0.0.5", false), 200, "v1.99.0")
	in := apiInputs(t, s)
	in.Config.Cluster.APIServer.CAData = b64(newCA(t, "cluster-ca").pem)
	in.Config.Cluster.KubernetesVersion = "1.35.4"
	if r := runCheck(t, checkKubeletVersion, in); r.Verdict != Warning || !strings.Contains(r.Message, "cannot read") {
		t.Errorf("unverified server: %s %q", r.Verdict, r.Message)
	}
}
