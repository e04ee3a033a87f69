package site

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// LogLevels are the values of cli.logLevel.
var LogLevels = []string{"debug", "info", "warn", "error"}

// validate returns every rule s breaks; from names the source of a key's
// value (a flag, a variable, the site file).
func (s *Settings) validate(from func(key string) string) []Problem {
	var ps []Problem
	add := func(key, source, format string, a ...any) {
		ps = append(ps, Problem{Key: key, Source: source, Message: fmt.Sprintf(format, a...)})
	}
	for _, p := range []struct{ key, value string }{{"proxy.http", s.Proxy.HTTP}, {"proxy.https", s.Proxy.HTTPS}} {
		if p.value == "" {
			continue
		}
		if msg := checkHTTPURL(p.value); msg != "" {
			add(p.key, from(p.key), "%q %s: write the proxy as http://host:port (or https://), e.g. http://proxy.idc.example:3128", redact.Userinfo(p.value), msg)
		}
	}
	for i, e := range s.Proxy.NoProxy {
		if e == "" {
			add(fmt.Sprintf("proxy.noProxy[%d]", i), from("proxy.noProxy"), "is empty: remove the empty entry (a doubled or trailing comma)")
		}
	}

	upstreams := map[string]int{}
	for i, r := range s.Registries {
		key := fmt.Sprintf("registries[%d]", i)
		src := from("registries")
		if msg := checkUpstream(r.Upstream); msg != "" {
			add(key+".upstream", src, "%s", msg)
		} else if j, dup := upstreams[strings.ToLower(r.Upstream)]; dup {
			add(key+".upstream", src, "%q is registries[%d]'s upstream too: give each upstream once, with all its mirrors in order", r.Upstream, j)
		} else {
			upstreams[strings.ToLower(r.Upstream)] = i
		}
		if len(r.Mirrors) == 0 {
			add(key+".mirrors", src, "lists no mirror: give at least one, e.g. mirrors: [{endpoint: https://mirror.idc.example:5000}], or remove the registry")
		}
		for j, m := range r.Mirrors {
			mk := fmt.Sprintf("%s.mirrors[%d]", key, j)
			if m.Endpoint == "" {
				add(mk+".endpoint", src, "is empty: give the mirror's URL, e.g. https://mirror.idc.example:5000 (http:// for a plain-HTTP mirror)")
			} else if msg := checkHTTPURL(m.Endpoint); msg != "" {
				add(mk+".endpoint", src, "%q %s: give the mirror's URL, e.g. https://mirror.idc.example:5000 (http:// for a plain-HTTP mirror)", redact.Userinfo(m.Endpoint), msg)
			}
			if m.CAFile != "" && !filepath.IsAbs(m.CAFile) {
				add(mk+".caFile", src, "%q is not an absolute path: give the PEM bundle's full path on the host, e.g. /etc/pki/idc-ca.pem", m.CAFile)
			}
		}
	}

	if d := s.Metrics.TextfileDir; d != "" && !filepath.IsAbs(d) {
		add("metrics.textfileDir", from("metrics.textfileDir"), "%q is not an absolute path: give node_exporter's --collector.textfile.directory, e.g. /var/lib/node_exporter/textfile_collector", d)
	}
	if !validLevel(s.CLI.LogLevel) {
		add("cli.logLevel", from("cli.logLevel"), "%q is no log level: use %s", s.CLI.LogLevel, strings.Join(LogLevels, ", "))
	}
	if s.CLI.Timeout <= 0 {
		add("cli.timeout", from("cli.timeout"), "%s is not a positive duration: give one such as 10m or 90s", s.CLI.Timeout)
	}
	return ps
}

func validLevel(l string) bool {
	for _, v := range LogLevels {
		if l == v {
			return true
		}
	}
	return false
}

// checkHTTPURL says what is wrong with an http(s) URL, or "".
func checkHTTPURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return "has no scheme"
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "is no URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("has the scheme %q, not http or https", u.Scheme)
	case u.Hostname() == "":
		return "has no host"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("has the port %q, not 1-65535", p)
		}
	}
	return ""
}

// checkUpstream says what is wrong with a registry's upstream, which is a
// host[:port] as image names spell it, or "".
func checkUpstream(up string) string {
	const what = "write the registry's host as image names spell it, e.g. docker.io, registry.k8s.io or harbor.idc.example:8443"
	switch {
	case up == "":
		return "is empty: " + what
	case strings.Contains(up, "://"):
		return fmt.Sprintf("%q has a scheme: %s (the mirrors' endpoints carry http:// or https://)", up, what)
	case strings.ContainsAny(up, "/?#@ \t"):
		return fmt.Sprintf("%q is not a host[:port] (no path, user or spaces): %s", up, what)
	}
	host, port := up, ""
	if h, p, err := net.SplitHostPort(up); err == nil {
		host, port = h, p
	} else if strings.Count(up, ":") == 1 {
		return fmt.Sprintf("%q has an empty or bad port: %s", up, what)
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q has the port %q, not 1-65535: %s", up, port, what)
		}
	}
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return fmt.Sprintf("%q is not a host name: %s", up, what)
	}
	return ""
}
