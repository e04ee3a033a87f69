package preflight

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// maxKubeletLag is how many minors a kubelet may be older than the API
// server (Kubernetes' version skew policy since 1.28).
const maxKubeletLag = 3

var checkKubeletVersion = Check{
	Name:        "kubelet-version",
	Description: "the pool's kubelet is not newer than the API server, nor more than 3 minors older",
	Run: func(ctx context.Context, in *Inputs) Result {
		want, err := config.ParseKubernetesVersion(in.Config.Cluster.KubernetesVersion)
		if err != nil {
			return fail("set cluster.kubernetesVersion as the console shows it", "cluster.kubernetesVersion: %v", err)
		}
		server, err := apiServerVersion(ctx, in)
		if err != nil {
			return warn("see api-server-reachable", "cannot read the API server's version: %v", err)
		}
		have, err := config.ParseKubernetesVersion(strings.TrimPrefix(server, "v"))
		if err != nil || have.Major != want.Major {
			return warn("see api-server-reachable", "the API server answers version %q, which is not a Kubernetes 1.x version", server)
		}
		switch {
		case want.Minor > have.Minor:
			return fail("upgrade the control plane first, or install with the bundle of the cluster's current version: a kubelet may never be newer than the API server",
				"the pool's kubelet %s (cluster.kubernetesVersion) is newer than the API server's %s", in.Config.Cluster.KubernetesVersion, server)
		case have.Minor-want.Minor > maxKubeletLag:
			return warn("upgrade the node pool's Kubernetes version: the kubelet is outside the supported skew",
				"the pool's kubelet %s is %d minors older than the API server's %s (at most %d are supported)", in.Config.Cluster.KubernetesVersion, have.Minor-want.Minor, server, maxKubeletLag)
		}
		return ok("kubelet %s, API server %s", in.Config.Cluster.KubernetesVersion, server)
	},
}

// apiServerVersion is the gitVersion of the API server's /version (see
// versionProbe).
func apiServerVersion(ctx context.Context, in *Inputs) (string, error) {
	a := in.probeVersion(ctx)
	return a.gitVersion, a.err
}

// versionAnswer is one GET /version over a connection verified with the
// configured (or pinned) CA: what the API server said, when, and over which
// TLS. api-server-reachable, kubelet-version and clock share it: one TLS
// handshake where there were three (2-core e2e host: the three at once
// took 12-17 ms of a no-op's 25 ms preflight).
type versionAnswer struct {
	gitVersion    string
	date          time.Time // the Date header; zero when absent
	before, after time.Time // the host's clock around the request
	tls           *tls.ConnectionState
	err           error
}

// versionProbe makes the checks of one run share one versionAnswer.
type versionProbe struct {
	once sync.Once
	a    versionAnswer
}

// probeVersion is the run's versionAnswer (a check run alone, without a
// shared probe, asks for its own).
func (in *Inputs) probeVersion(ctx context.Context) versionAnswer {
	if in.version == nil {
		return getVersion(ctx, in)
	}
	// The first check to ask waits for the answer with its own context;
	// the others wait for it, each bounded by the same Timeout.
	in.version.once.Do(func() { in.version.a = getVersion(ctx, in) })
	return in.version.a
}

// getVersion reads /version anonymously (readable so on a default API
// server).
func getVersion(ctx context.Context, in *Inputs) (a versionAnswer) {
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	api := in.Config.Cluster.APIServer
	addr, err := ResolveAPIServer(ctx, api.Endpoint, in.Resolver)
	if err != nil {
		a.err = err
		return a
	}
	if needsDiscovery(api) {
		disc, err := in.discovery.get(ctx, in, addr)
		if err != nil {
			a.err = err
			return a
		}
		api.CAData = base64.StdEncoding.EncodeToString(disc.PEM)
	}
	tlsConf, err := APIServerTLS(api, addr.Host)
	if err != nil {
		a.err = err
		return a
	}
	tr := &http.Transport{DialContext: in.Dialer.DialContext, TLSClientConfig: tlsConf}
	defer tr.CloseIdleConnections()
	u := "https://" + net.JoinHostPort(addr.IPs[0].String(), addr.Port) + "/version"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	a.before = in.Now()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	a.after = in.Now()
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	a.tls = resp.TLS
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		a.date = d
	}
	if resp.StatusCode != http.StatusOK {
		a.err = fmt.Errorf("GET /version: HTTP %d", resp.StatusCode)
		return a
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v); err != nil || v.GitVersion == "" {
		a.err = fmt.Errorf("GET /version: no gitVersion in the answer")
		return a
	}
	a.gitVersion = v.GitVersion
	return a
}
