package preflight

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

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

// apiServerVersion is the gitVersion of the API server's /version, read over
// the connection api-server-reachable verifies (the configured or pinned
// CA). /version is readable anonymously on a default API server.
func apiServerVersion(ctx context.Context, in *Inputs) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	api := in.Config.Cluster.APIServer
	addr, err := ResolveAPIServer(ctx, api.Endpoint, in.Resolver)
	if err != nil {
		return "", err
	}
	if needsDiscovery(api) {
		disc, err := in.discovery.get(ctx, in, addr)
		if err != nil {
			return "", err
		}
		api.CAData = base64.StdEncoding.EncodeToString(disc.PEM)
	}
	tlsConf, err := APIServerTLS(api, addr.Host)
	if err != nil {
		return "", err
	}
	tr := &http.Transport{DialContext: in.Dialer.DialContext, TLSClientConfig: tlsConf}
	defer tr.CloseIdleConnections()
	u := "https://" + net.JoinHostPort(addr.IPs[0].String(), addr.Port) + "/version"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /version: HTTP %d", resp.StatusCode)
	}
	var v struct {
		GitVersion string `json:"gitVersion"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&v); err != nil || v.GitVersion == "" {
		return "", fmt.Errorf("GET /version: no gitVersion in the answer")
	}
	return v.GitVersion, nil
}
