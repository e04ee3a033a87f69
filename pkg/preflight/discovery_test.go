package preflight

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/treetest"
)

const (
	testTokenID     = "abcdef"
	testTokenSecret = "0123456789abcdef"
)

// signDetached signs payload as the bootstrap signer does for a token.
func signDetached(payload []byte, id, secret string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","kid":"` + id + `"}`))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(h + "." + base64.RawURLEncoding.EncodeToString(payload)))
	return h + ".." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func clusterInfoKubeconfig(caPEM []byte) string {
	return "apiVersion: v1\nkind: Config\nclusters:\n- name: \"\"\n  cluster:\n    server: https://10.0.0.5:443\n    certificate-authority-data: " +
		b64(caPEM) + "\ncontexts: []\nusers: []\n"
}

// clusterInfoServer is a real TLS API server on loopback that serves
// kube-public/cluster-info to anonymous clients, as kubeadm sets it up.
// data nil answers 404 as an API server without the ConfigMap does.
func clusterInfoServer(t *testing.T, cert tls.Certificate, data map[string]string) *apiServer {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api/v1/namespaces/kube-public/configmaps/cluster-info" || data == nil {
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"configmaps \"cluster-info\" not found","details":{"name":"cluster-info","kind":"configmaps"}}`)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"kind": "ConfigMap", "apiVersion": "v1",
			"metadata": map[string]any{"name": "cluster-info", "namespace": "kube-public"},
			"data":     data,
		})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &apiServer{srv: srv, dialer: &redirectDialer{from: "10.0.0.5:443", to: srv.Listener.Addr().String()}}
}

// signedClusterInfo is cluster-info publishing ca, signed for the test token.
func signedClusterInfo(ca *ca) map[string]string {
	kc := clusterInfoKubeconfig(ca.pem)
	return map[string]string{"kubeconfig": kc, "jws-kubeconfig-" + testTokenID: signDetached([]byte(kc), testTokenID, testTokenSecret)}
}

func pinnedInputs(t *testing.T, s *apiServer, hashes ...string) *Inputs {
	in := apiInputs(t, s)
	in.Config.Cluster.BootstrapToken = testTokenID + "." + testTokenSecret
	in.Config.Cluster.APIServer.CAData = ""
	in.Config.Cluster.APIServer.CACertHashes = hashes
	in.Offline = true // no COS in these tests
	return in
}

func TestAPIServerReachableTrustsTheClusterInfoCAByItsPin(t *testing.T) {
	clusterCA := newCA(t, "cluster-ca")
	otherCA := newCA(t, "someone-else")
	serving := clusterCA.serving(t, "10.0.0.5", false)
	tampered := signedClusterInfo(clusterCA)
	tampered["jws-kubeconfig-"+testTokenID] = signDetached([]byte(tampered["kubeconfig"]), testTokenID, "ffffffffffffffff")
	unsigned := map[string]string{"kubeconfig": clusterInfoKubeconfig(clusterCA.pem)}
	// An impostor publishes the pinned CA but cannot serve a certificate it issued.
	impostor := clusterInfoServer(t, otherCA.serving(t, "10.0.0.5", false), signedClusterInfo(clusterCA))

	cases := []struct {
		name    string
		srv     *apiServer
		hashes  []string
		verdict Verdict
		says    []string
	}{
		{"good hash, signed", clusterInfoServer(t, serving, signedClusterInfo(clusterCA)), []string{SPKIHash(clusterCA.cert)}, OK,
			[]string{"cluster-info", SPKIHash(clusterCA.cert), "signed for the bootstrap token"}},
		{"one of several hashes", clusterInfoServer(t, serving, signedClusterInfo(clusterCA)), []string{"sha256:" + strings.Repeat("0", 64), SPKIHash(clusterCA.cert)}, OK,
			[]string{"verified"}},
		{"good hash, not signed for the token", clusterInfoServer(t, serving, unsigned), []string{SPKIHash(clusterCA.cert)}, OK,
			[]string{"cluster-info"}},
		{"wrong hash", clusterInfoServer(t, serving, signedClusterInfo(clusterCA)), []string{SPKIHash(otherCA.cert)}, Error,
			[]string{"has hash " + SPKIHash(clusterCA.cert), "expects " + SPKIHash(otherCA.cert)}},
		{"the serving key's hash is not the CA's", clusterInfoServer(t, serving, signedClusterInfo(clusterCA)), []string{SPKIHash(serving.Leaf)}, Error,
			[]string{"expects " + SPKIHash(serving.Leaf)}},
		{"no cluster-info", clusterInfoServer(t, serving, nil), []string{SPKIHash(clusterCA.cert)}, Error,
			[]string{"no ConfigMap kube-public/cluster-info"}},
		{"anonymous may not read cluster-info", startAPIServer(t, serving), []string{SPKIHash(clusterCA.cert)}, Error,
			[]string{"does not let an anonymous client read"}},
		{"bad signature", clusterInfoServer(t, serving, tampered), []string{SPKIHash(clusterCA.cert)}, Error,
			[]string{"signature does not verify"}},
		{"server not issued by the pinned CA", impostor, []string{SPKIHash(clusterCA.cert)}, Error,
			[]string{"the pinned CA did not issue"}},
		{"malformed hash", clusterInfoServer(t, serving, unsigned), []string{"md5:abc"}, Error,
			[]string{"not sha256"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCheck(t, checkAPIServer, pinnedInputs(t, c.srv, c.hashes...))
			if r.Verdict != c.verdict {
				t.Errorf("verdict %s, want %s", r.Verdict, c.verdict)
			}
			for _, s := range c.says {
				if !strings.Contains(r.Message, s) {
					t.Errorf("message %q does not say %q", r.Message, s)
				}
			}
			if strings.Contains(r.Message+r.Remediation, testTokenSecret) {
				t.Errorf("the token's secret is in the result: %q", r.Message)
			}
		})
	}
}

// The preflight phase hands the pinned CA on as caData, and on a hash
// mismatch fails (exit 3) without changing the host, even when told to
// ignore the check: the kubelet cannot be configured without the CA.
func TestPreflightPhaseAdoptsThePinnedCAOrFailsWithoutTouchingTheHost(t *testing.T) {
	clusterCA := newCA(t, "cluster-ca")
	otherCA := newCA(t, "someone-else")
	srv := clusterInfoServer(t, clusterCA.serving(t, "10.0.0.5", false), signedClusterInfo(clusterCA))

	t.Run("good hash", func(t *testing.T) {
		in := pinnedInputs(t, srv, SPKIHash(clusterCA.cert))
		p := Phase(in, nil, nil)
		if ok, err := p.Satisfied(context.Background()); !ok || err != nil {
			t.Fatalf("Satisfied = %v, %v", ok, err)
		}
		got, err := base64.StdEncoding.DecodeString(in.Config.Cluster.APIServer.CAData)
		if err != nil || string(got) != string(clusterCA.pem) {
			t.Errorf("caData after preflight is %q, want the cluster CA from cluster-info", in.Config.Cluster.APIServer.CAData)
		}
	})
	for _, ignore := range [][]string{nil, {"api-server-reachable"}, {"all"}} {
		t.Run("wrong hash, ignoring "+strings.Join(ignore, ","), func(t *testing.T) {
			in := pinnedInputs(t, srv, SPKIHash(otherCA.cert))
			before := treetest.Snapshot(t, in.Root.Dir)
			p := Phase(in, ignore, nil)
			if ok, _ := p.Satisfied(context.Background()); ok {
				t.Error("Satisfied with a CA that does not match the pin")
			}
			err := p.Run(context.Background(), nil)
			var fe *FailedError
			if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Name != "api-server-reachable" {
				t.Fatalf("Run = %v; want a *FailedError of api-server-reachable", err)
			}
			for _, s := range []string{SPKIHash(clusterCA.cert), SPKIHash(otherCA.cert)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the error does not name %s:\n%v", s, err)
				}
			}
			if in.Config.Cluster.APIServer.CAData != "" {
				t.Error("caData set from a CA that does not match the pin")
			}
			if after := treetest.Snapshot(t, in.Root.Dir); !maps.Equal(before, after) {
				t.Errorf("preflight changed the host:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestVerifyDetachedJWS(t *testing.T) {
	payload := []byte("kubeconfig")
	good := signDetached(payload, testTokenID, testTokenSecret)
	if err := verifyDetachedJWS(good, payload, testTokenID, testTokenSecret); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for name, c := range map[string]struct{ jws, id string }{
		"another secret":      {signDetached(payload, testTokenID, "ffffffffffffffff"), testTokenID},
		"another key ID":      {signDetached(payload, "zzzzzz", testTokenSecret), testTokenID},
		"attached payload":    {strings.Replace(good, "..", ".eA.", 1), testTokenID},
		"not a JWS":           {"hello", testTokenID},
		"algorithm none":      {base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "..", testTokenID},
		"other payload's sig": {signDetached([]byte("other"), testTokenID, testTokenSecret), testTokenID},
	} {
		if err := verifyDetachedJWS(c.jws, payload, c.id, testTokenSecret); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}
