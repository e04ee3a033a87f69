package site

import (
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpproxy"
)

// ProxyFunc is how add2tkectl's own HTTP clients (downloads, preflight's
// reach of COS) pick a request's proxy: the site's proxy with NoProxy's
// list for n (install passes none: its requests go to the artifact store
// only) when one is configured, else the process's environment
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), as before there were site settings.
func (p Proxy) ProxyFunc(n Node) func(*http.Request) (*url.URL, error) {
	if !p.Enabled() {
		return http.ProxyFromEnvironment
	}
	f := (&httpproxy.Config{HTTPProxy: p.HTTP, HTTPSProxy: p.HTTPS, NoProxy: strings.Join(NoProxy(p, n), ",")}).ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }
}
