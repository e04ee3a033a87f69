package preflight

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/network"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// APIServerAddress is the host, port and addresses of the configured
// API server endpoint.
type APIServerAddress struct {
	Host string
	Port string
	IPs  []net.IP
}

// ResolveAPIServer parses cluster.apiServer.endpoint and resolves it.
func ResolveAPIServer(ctx context.Context, endpoint string, r *net.Resolver) (APIServerAddress, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return APIServerAddress{}, fmt.Errorf("cluster.apiServer.endpoint %q is not an https://HOST[:PORT] URL", endpoint)
	}
	a := APIServerAddress{Host: u.Hostname(), Port: u.Port()}
	if a.Port == "" {
		a.Port = "443"
	}
	if ip := net.ParseIP(a.Host); ip != nil {
		a.IPs = []net.IP{ip}
		return a, nil
	}
	addrs, err := r.LookupIPAddr(ctx, a.Host)
	if err != nil {
		return a, fmt.Errorf("resolve the API server %s: %w", a.Host, err)
	}
	for _, ad := range addrs {
		a.IPs = append(a.IPs, ad.IP)
	}
	return a, nil
}

var checkAPIServer = Check{
	Name:        "api-server-reachable",
	Description: "the API server answers over the private link with the configured CA",
	Run: func(ctx context.Context, in *Inputs) Result {
		ctx, cancel := context.WithTimeout(ctx, in.Timeout)
		defer cancel()
		api := in.Config.Cluster.APIServer
		addr, err := ResolveAPIServer(ctx, api.Endpoint, in.Resolver)
		if err != nil {
			return fail("set cluster.apiServer.endpoint to the cluster's private endpoint as the console shows it", "%v", err)
		}
		for _, ip := range addr.IPs {
			if !network.IsPrivate(ip) {
				return fail("use the cluster's private (intranet) endpoint: nodes join over the private link only",
					"the API server address %s is not private (RFC 1918, 100.64.0.0/10 or fd00::/8)", ip)
			}
		}
		trusted := "the configured CA"
		if needsDiscovery(api) {
			disc, err := in.discovery.get(ctx, in, addr)
			if err != nil {
				return discoveryFailed(err)
			}
			// The pinned CA, from now on as if given as caData.
			api.CAData = base64.StdEncoding.EncodeToString(disc.PEM)
			trusted = "the cluster CA from " + ClusterInfoNamespace + "/" + ClusterInfoName + " (pinned " + disc.Hash
			if disc.Signed {
				trusted += ", signed for the bootstrap token"
			}
			trusted += ")"
		}
		tlsConf, err := APIServerTLS(api, addr.Host)
		if err != nil {
			return fail("set cluster.apiServer.caData (or caCertHashes) as the console shows it", "%v", err)
		}
		target := net.JoinHostPort(addr.IPs[0].String(), addr.Port)
		// The run's verified GET /version proves it; only when that failed
		// does a bare handshake find out why.
		if a := in.probeVersion(ctx); a.tls != nil { // verified: VerifyConnection passed
			return ok("%s reachable, TLS %s, certificate verified by %s", target, tls.VersionName(a.tls.Version), trusted)
		}
		conn, err := in.Dialer.DialContext(ctx, "tcp", target)
		if err != nil {
			return fail(fmt.Sprintf("check the route from this host to %s and that the firewall / security group lets this host's address reach port %s", addr.IPs[0], addr.Port),
				"cannot connect to the API server at %s: %v", target, err)
		}
		defer conn.Close()
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			var te *TrustError
			if errors.As(err, &te) {
				return fail("check that cluster.apiServer.caData / caCertHashes belong to this cluster and that the endpoint is this cluster's",
					"the server at %s is not the API server the configuration trusts: %v", target, te)
			}
			return fail("check that the endpoint is the API server (an HTTPS port) and that nothing intercepts TLS on the way",
				"TLS handshake with %s failed: %v", target, err)
		}
		return ok("%s reachable, TLS %s, certificate verified by %s", target, tls.VersionName(tc.ConnectionState().Version), trusted)
	},
}

// pinRemedy tells how to find the right caCertHashes.
const pinRemedy = "check cluster.apiServer.caCertHashes against the cluster CA as the console shows it (kubeadm's hash: openssl x509 -pubkey -noout -in ca.crt | openssl pkey -pubin -outform der | sha256sum), and that the endpoint is this cluster's"

// discoveryFailed is the verdict on a cluster CA that caCertHashes could
// not provide.
func discoveryFailed(err error) Result {
	var te *TrustError
	var de *DiscoveryError
	switch {
	case errors.As(err, &te):
		return fail(pinRemedy, "the API server is not the one the configuration trusts: %v", te)
	case errors.As(err, &de):
		return fail(de.Remedy, "cannot read the cluster CA to check against cluster.apiServer.caCertHashes: %v", de)
	}
	return fail("check that the endpoint is the API server (an HTTPS port) and that this host reaches it",
		"cannot read the cluster CA to check against cluster.apiServer.caCertHashes: %v", err)
}

var checkNodeIP = Check{
	Name:        "node-ip",
	Description: "the node IP is the source address of the route to the API server",
	Run: func(ctx context.Context, in *Inputs) Result {
		ctx, cancel := context.WithTimeout(ctx, in.Timeout)
		defer cancel()
		addr, err := ResolveAPIServer(ctx, in.Config.Cluster.APIServer.Endpoint, in.Resolver)
		if err != nil {
			return fail("set cluster.apiServer.endpoint to the cluster's private endpoint", "%v", err)
		}
		ip, err := in.NodeIP(addr.IPs[0])
		if err != nil {
			return fail(fmt.Sprintf("add a route to %s over the private link (ip route add %s via GATEWAY)", addr.IPs[0], addr.IPs[0]),
				"no node IP: %v", err)
		}
		if !network.IsPrivate(ip) {
			return warn("check that the route to the API server leaves through the private link, not the internet",
				"node IP %s (the source address of the route to %s) is not a private address", ip, addr.IPs[0])
		}
		return ok("node IP %s (source address of the route to %s)", ip, addr.IPs[0])
	},
}

// maxClockSkew is how far this host's clock may be from the API server's
// before certificates and tokens start to misbehave.
const maxClockSkew = 30 * time.Second

var checkClock = Check{
	Name:        "clock",
	Description: "the host's clock agrees with the API server's",
	Run: func(ctx context.Context, in *Inputs) Result {
		ctx, cancel := context.WithTimeout(ctx, in.Timeout)
		defer cancel()
		addr, err := ResolveAPIServer(ctx, in.Config.Cluster.APIServer.Endpoint, in.Resolver)
		if err != nil {
			return warn("see api-server-reachable", "cannot compare clocks: %v", err)
		}
		if a := in.probeVersion(ctx); !a.date.IsZero() {
			return clockVerdict(a.before, a.after, a.date)
		}
		// Only the Date header is read and nothing is sent: no need to
		// verify the server here (api-server-reachable does), and a
		// skewed clock must not fail the handshake this check explains.
		tr := &http.Transport{
			DialContext:     in.Dialer.DialContext,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: addr.Host},
		}
		defer tr.CloseIdleConnections()
		u := "https://" + net.JoinHostPort(addr.IPs[0].String(), addr.Port) + "/version"
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		before := in.Now()
		resp, err := (&http.Client{Transport: tr}).Do(req)
		after := in.Now()
		if err != nil {
			return warn("see api-server-reachable", "cannot read the API server's clock: %v", err)
		}
		resp.Body.Close()
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			return warn("see api-server-reachable", "the API server's answer has no Date header")
		}
		return clockVerdict(before, after, date)
	},
}

// clockVerdict compares the host's clock, read before and after a request,
// with the Date the API server answered it with.
func clockVerdict(before, after, date time.Time) Result {
	local := before.Add(after.Sub(before) / 2)
	skew := local.Sub(date)
	// Date has a one-second resolution.
	if skew.Abs() > maxClockSkew+time.Second {
		ahead := "ahead of"
		if skew < 0 {
			ahead = "behind"
		}
		return warn("synchronise the clock with NTP (chronyd or systemd-timesyncd): certificates and tokens fail with a skewed clock",
			"this host's clock is %s %s the API server's", skew.Abs().Round(time.Second), ahead)
	}
	return ok("clock within %s of the API server's", skew.Abs().Round(time.Second)+time.Second)
}

var checkCOSReachable = Check{
	Name:        "cos-reachable",
	Description: "the artifact store (COS) answers",
	Run: func(ctx context.Context, in *Inputs) Result {
		raw := in.Config.Artifacts.ManifestURL
		if in.Offline || raw == "" {
			return ok("not used (offline artifacts)")
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fail("set artifacts.manifestURL as the console gives it", "the manifest URL %s is not an http(s) URL", redact.URL(raw))
		}
		ctx, cancel := context.WithTimeout(ctx, in.Timeout)
		defer cancel()
		// The host alone, without the presigned query: reachability only.
		base := u.Scheme + "://" + u.Host + "/"
		tr := &http.Transport{DialContext: in.Dialer.DialContext, TLSClientConfig: &tls.Config{RootCAs: in.RootCAs}, Proxy: in.Proxy}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, base, nil)
		var proxy *url.URL
		if in.Proxy != nil {
			if proxy, err = in.Proxy(req); err != nil {
				return fail("set proxy.http and proxy.https of the site file to http://HOST:PORT URLs", "the proxy for %s: %s", u.Host, redact.String(err.Error()))
			}
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil && proxy != nil {
			return fail(fmt.Sprintf("check that the proxy %s is reachable from this host and lets it reach %s (proxy.http, proxy.https, proxy.noProxy of the site file); or download the artifacts elsewhere and use --artifacts-dir", proxy.Redacted(), u.Host),
				"cannot reach %s through the proxy %s: %s", u.Host, proxy.Redacted(), redact.String(err.Error()))
		}
		if err != nil {
			return fail(fmt.Sprintf("check that %s resolves and is reachable from this host (the internal COS endpoint needs the VPC's private link); or download the artifacts elsewhere and use --artifacts-dir", u.Hostname()),
				"cannot reach %s: %s", u.Host, redact.String(err.Error()))
		}
		resp.Body.Close()
		if proxy != nil {
			return ok("%s answers through the proxy %s (HTTP %d)", u.Host, proxy.Redacted(), resp.StatusCode)
		}
		return ok("%s answers (HTTP %d)", u.Host, resp.StatusCode)
	},
}
