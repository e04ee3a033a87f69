package preflight

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &ca{cert: c, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serving issues a kube-apiserver serving certificate for ip.
func (c *ca) serving(t *testing.T, ip string, withCA bool) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(ip)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{der}
	if withCA {
		chain = append(chain, c.cert.Raw)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}
}

// apiServer is a real TLS server on loopback standing in for the API
// server's private address: the dialer sends 10.0.0.5:443 to it.
type apiServer struct {
	srv    *httptest.Server
	dialer *redirectDialer
}

func startAPIServer(t *testing.T, cert tls.Certificate) *apiServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized) // as an anonymous request gets
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &apiServer{srv: srv, dialer: &redirectDialer{from: "10.0.0.5:443", to: srv.Listener.Addr().String()}}
}

type redirectDialer struct {
	from, to string
	mu       sync.Mutex
	dialed   []string
}

func (d *redirectDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	if addr == d.from {
		addr = d.to
	}
	return (&net.Dialer{}).DialContext(ctx, network, addr)
}

func apiInputs(t *testing.T, s *apiServer) *Inputs {
	in := healthyHost(t)
	in.Dialer = s.dialer
	return in
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// With caCertHashes alone the CA comes from cluster-info:
// TestAPIServerReachableTrustsTheClusterInfoCAByItsPin.
func TestAPIServerReachableVerifiesTheConfiguredTrust(t *testing.T) {
	clusterCA := newCA(t, "cluster-ca")
	otherCA := newCA(t, "someone-else")
	leafOnly := startAPIServer(t, clusterCA.serving(t, "10.0.0.5", false))
	withCA := startAPIServer(t, clusterCA.serving(t, "10.0.0.5", true))

	cases := []struct {
		name    string
		srv     *apiServer
		caData  string
		hashes  []string
		verdict Verdict
		says    string
	}{
		{"caData of the cluster CA", leafOnly, b64(clusterCA.pem), nil, OK, "verified"},
		{"caData as raw PEM", leafOnly, string(clusterCA.pem), nil, OK, "verified"},
		{"caData of another CA", leafOnly, b64(otherCA.pem), nil, Error, "does not verify against cluster.apiServer.caData"},
		{"caData and a matching hash", leafOnly, b64(clusterCA.pem), []string{SPKIHash(clusterCA.cert)}, OK, "verified"},
		{"caData right, hash wrong", leafOnly, b64(clusterCA.pem), []string{SPKIHash(otherCA.cert)}, Error, "no certificate in it matches"},
		{"caData and a malformed hash", leafOnly, b64(clusterCA.pem), []string{"md5:abc"}, Error, "not sha256"},
		{"caData and the CA the server sends pinned", withCA, b64(clusterCA.pem), []string{SPKIHash(clusterCA.cert)}, OK, "verified"},
		{"no trust configured", leafOnly, "", nil, Error, "neither"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := apiInputs(t, c.srv)
			in.Config.Cluster.APIServer.CAData = c.caData
			in.Config.Cluster.APIServer.CACertHashes = c.hashes
			r := runCheck(t, checkAPIServer, in)
			if r.Verdict != c.verdict || !strings.Contains(r.Message, c.says) {
				t.Errorf("got %s %q; want %s saying %q", r.Verdict, r.Message, c.verdict, c.says)
			}
		})
	}
}

func TestAPIServerMustBePrivateAndReachable(t *testing.T) {
	clusterCA := newCA(t, "cluster-ca")
	s := startAPIServer(t, clusterCA.serving(t, "10.0.0.5", false))

	in := apiInputs(t, s)
	in.Config.Cluster.APIServer.CAData = b64(clusterCA.pem)
	in.Config.Cluster.APIServer.Endpoint = "https://203.0.113.9:443"
	r := runCheck(t, checkAPIServer, in)
	if r.Verdict != Error || !strings.Contains(r.Message, "not private") {
		t.Errorf("public endpoint: %s %q", r.Verdict, r.Message)
	}
	if len(s.dialer.dialed) != 0 {
		t.Errorf("dialed %v for a public endpoint; must refuse before connecting", s.dialer.dialed)
	}

	// Nothing listens: the listener of a closed server.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	in.Config.Cluster.APIServer.Endpoint = "https://10.0.0.5:443"
	in.Dialer = &redirectDialer{from: "10.0.0.5:443", to: closed}
	r = runCheck(t, checkAPIServer, in)
	if r.Verdict != Error || !strings.Contains(r.Message, "cannot connect") || !strings.Contains(r.Remediation, "route") {
		t.Errorf("refused connection: %s %q (%s)", r.Verdict, r.Message, r.Remediation)
	}

	in.Config.Cluster.APIServer.Endpoint = "10.0.0.5:443"
	if r := runCheck(t, checkAPIServer, in); r.Verdict != Error || !strings.Contains(r.Message, "https://") {
		t.Errorf("endpoint without scheme: %s %q", r.Verdict, r.Message)
	}
}

func TestClockComparesWithTheAPIServersDate(t *testing.T) {
	s := startAPIServer(t, newCA(t, "ca").serving(t, "10.0.0.5", false))
	in := apiInputs(t, s)
	if r := runCheck(t, checkClock, in); r.Verdict != OK {
		t.Errorf("same clock: %s %q", r.Verdict, r.Message)
	}
	in.Now = func() time.Time { return time.Now().Add(-3 * time.Minute) }
	r := runCheck(t, checkClock, in)
	if r.Verdict != Warning || !strings.Contains(r.Message, "behind") || !strings.Contains(r.Remediation, "NTP") {
		t.Errorf("3 min slow: %s %q", r.Verdict, r.Message)
	}
	in.Now = func() time.Time { return time.Now().Add(45 * time.Second) }
	if r := runCheck(t, checkClock, in); r.Verdict != Warning || !strings.Contains(r.Message, "ahead") {
		t.Errorf("45 s fast: %s %q", r.Verdict, r.Message)
	}
}

func TestNodeIPCheck(t *testing.T) {
	in := healthyHost(t)
	var asked net.IP
	in.NodeIP = func(ip net.IP) (net.IP, error) { asked = ip; return net.ParseIP("10.77.0.11"), nil }
	r := runCheck(t, checkNodeIP, in)
	if r.Verdict != OK || !strings.Contains(r.Message, "10.77.0.11") || !asked.Equal(net.ParseIP("10.0.0.5")) {
		t.Errorf("got %s %q, asked for %s", r.Verdict, r.Message, asked)
	}
	in.NodeIP = func(net.IP) (net.IP, error) { return nil, errors.New("network is unreachable") }
	if r := runCheck(t, checkNodeIP, in); r.Verdict != Error || !strings.Contains(r.Remediation, "ip route add 10.0.0.5") {
		t.Errorf("no route: %s %q (%s)", r.Verdict, r.Message, r.Remediation)
	}
	in.NodeIP = func(net.IP) (net.IP, error) { return net.ParseIP("203.0.113.10"), nil }
	if r := runCheck(t, checkNodeIP, in); r.Verdict != Warning {
		t.Errorf("public node IP: %s %q", r.Verdict, r.Message)
	}
}

const presignQuery = "q-sign-algorithm=sha1&q-ak=AKIDsecretid&q-header-list=host&q-url-param-list=&q-signature=0123456789abcdef0123456789abcdef01234567"

func TestCOSReachableAsksTheHostOnly(t *testing.T) {
	var gotPath, gotQuery, gotMethod string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotMethod, gotPath, gotQuery = r.Method, r.URL.Path, r.URL.RawQuery
		w.WriteHeader(http.StatusForbidden) // COS answers anonymous requests so
	}))
	defer srv.Close()
	in := healthyHost(t)
	in.Dialer = &net.Dialer{}
	in.Config.Artifacts.ManifestURL = srv.URL + "/np-3kd9a1bc/manifest.json?q-sign-time=1;2&" + presignQuery
	r := runCheck(t, checkCOSReachable, in)
	if r.Verdict != OK || !strings.Contains(r.Message, "HTTP 403") {
		t.Errorf("got %s %q", r.Verdict, r.Message)
	}
	if gotMethod != http.MethodHead || gotPath != "/" || gotQuery != "" {
		t.Errorf("request was %s %s?%s; want HEAD / without the presigned query", gotMethod, gotPath, gotQuery)
	}

	srv.Close()
	r = runCheck(t, checkCOSReachable, in)
	if r.Verdict != Error || !strings.Contains(r.Message, "cannot reach") || strings.Contains(r.Message+r.Remediation, "q-signature") {
		t.Errorf("closed server: %s %q", r.Verdict, r.Message)
	}

	in.Offline = true
	if r := runCheck(t, checkCOSReachable, in); r.Verdict != OK {
		t.Errorf("offline: %s %q", r.Verdict, r.Message)
	}
}

func TestPresignedLinkNotExpired(t *testing.T) {
	now := time.Unix(1_764_000_000, 0)
	base := "https://bkt-1250000000.cos-internal.ap-guangzhou.tencentcos.cn/np/manifest.json?"
	win := func(s, e int64) string {
		return "q-sign-time=" + itoa(s) + "%3B" + itoa(e) + "&q-key-time=" + itoa(s) + "%3B" + itoa(e) + "&" + presignQuery
	}
	n := now.Unix()
	cases := []struct {
		name    string
		url     string
		verdict Verdict
		says    string
	}{
		{"valid for 50 min", base + win(n-600, n+3000), OK, "50m0s left"},
		{"expired 5 min ago", base + win(n-3900, n-300), Error, "expired"},
		{"expires in 4 min", base + win(n-3360, n+240), Warning, "expires in 4m0s"},
		{"starts in the future", base + win(n+600, n+4200), Warning, "in the future"},
		{"packed in sign=", base + "sign=" + urlEscape("q-sign-algorithm=sha1&q-ak=AKID&q-sign-time="+itoa(n-3900)+";"+itoa(n-300)+"&q-key-time="+itoa(n-3900)+";"+itoa(n-300)+"&q-signature=ff"), Error, "expired"},
		{"S3 style", base + "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=" + now.Add(-2*time.Hour).UTC().Format("20060102T150405Z") + "&X-Amz-Expires=3600&X-Amz-Signature=ab", Error, "expired"},
		{"raw semicolons", base + "q-sign-time=" + itoa(n-600) + ";" + itoa(n+3000) + "&" + presignQuery, OK, "50m0s left"},
		{"not presigned", "https://mirror.example/manifest.json", OK, "no expiry"},
		{"garbled window", base + "q-sign-time=abc&" + presignQuery, Error, "q-sign-time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := healthyHost(t)
			in.Now = func() time.Time { return now }
			in.Config.Artifacts.ManifestURL = c.url
			r := runCheck(t, checkPresignedLink, in)
			if r.Verdict != c.verdict || !strings.Contains(r.Message, c.says) {
				t.Errorf("got %s %q; want %s saying %q", r.Verdict, r.Message, c.verdict, c.says)
			}
			if c.verdict == Error && c.says == "expired" && !strings.Contains(r.Remediation, "regenerate the script in the console") {
				t.Errorf("remediation %q does not say to regenerate the script", r.Remediation)
			}
			if strings.Contains(r.Message+r.Remediation, "q-signature") || strings.Contains(r.Message, "AKID") {
				t.Errorf("the result leaks the presigned query: %q", r.Message)
			}
		})
	}
}

func itoa(i int64) string { return big.NewInt(i).String() }

func urlEscape(s string) string {
	return strings.NewReplacer("&", "%26", "=", "%3D", ";", "%3B").Replace(s)
}

// TestCOSReachableGoesThroughTheProxy: with a proxy, the check asks COS
// through it (the proxy sees the absolute URL) and says so; a proxy that
// is down fails the check naming the proxy, its password hidden.
func TestCOSReachableGoesThroughTheProxy(t *testing.T) {
	var asked string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.Method + " " + r.URL.String()
		w.WriteHeader(http.StatusForbidden)
	}))
	defer proxy.Close()
	in := healthyHost(t)
	in.Dialer = &net.Dialer{}
	// No such host: only the proxy can answer for it.
	in.Config.Artifacts.ManifestURL = "http://cos.idc.invalid/np-3kd9a1bc/manifest.json?" + presignQuery
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("ops", "hunter2")
	in.Proxy = http.ProxyURL(pu)
	r := runCheck(t, checkCOSReachable, in)
	if r.Verdict != OK || !strings.Contains(r.Message, "through the proxy") || !strings.Contains(r.Message, "HTTP 403") {
		t.Errorf("through a proxy: %s %q", r.Verdict, r.Message)
	}
	if asked != "HEAD http://cos.idc.invalid/" {
		t.Errorf("the proxy was asked %q, want HEAD http://cos.idc.invalid/", asked)
	}

	proxy.Close()
	r = runCheck(t, checkCOSReachable, in)
	if r.Verdict != Error || !strings.Contains(r.Message, "through the proxy") || !strings.Contains(r.Remediation, "proxy") {
		t.Errorf("proxy down: %s %q (%s)", r.Verdict, r.Message, r.Remediation)
	}
	if strings.Contains(r.Message+r.Remediation, "hunter2") {
		t.Errorf("the proxy's password is shown: %q %q", r.Message, r.Remediation)
	}
}

// api-server-reachable, clock and kubelet-version read one GET /version of
// the run: one connection and TLS handshake, not three.
func TestTheAPIServerChecksShareOneConnection(t *testing.T) {
	clusterCA := newCA(t, "cluster-ca")
	s := startAPIServer(t, clusterCA.serving(t, "10.0.0.5", false))
	in := apiInputs(t, s)
	in.Config.Cluster.APIServer.CAData = b64(clusterCA.pem)
	rep, _ := RunChecks(context.Background(), in, []Check{checkAPIServer, checkClock, checkKubeletVersion}, nil)
	want := map[string]Verdict{checkAPIServer.Name: OK, checkClock.Name: OK, checkKubeletVersion.Name: Warning} // anonymous /version: 401 here
	for _, r := range rep.Results {
		if r.Verdict != want[r.Name] {
			t.Errorf("%s: %s %q, want %s", r.Name, r.Verdict, r.Message, want[r.Name])
		}
	}
	s.dialer.mu.Lock()
	defer s.dialer.mu.Unlock()
	if len(s.dialer.dialed) != 1 {
		t.Errorf("dialed %v: want one connection for the three checks", s.dialer.dialed)
	}
}
