// Package registry turns the site's registry mirrors into what a container
// runtime needs of them: the upstream's server, each mirror's URL and
// host:port, and the private CA a mirror's certificate is signed by, read
// from the host and checked. containerd and docker render their own files
// from it.
package registry

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// DockerHub is the name image references give Docker Hub.
const DockerHub = "docker.io"

// dockerHubServer is Docker Hub's registry API: docker.io itself only
// redirects.
const dockerHubServer = "https://registry-1.docker.io"

// Upstream is one registry of the site with its mirrors, checked.
type Upstream struct {
	// Name is the registry as image references spell it (docker.io for
	// index.docker.io and registry-1.docker.io too), the runtimes'
	// directory name for it.
	Name string
	// Server is the upstream's own registry API, tried after the mirrors.
	Server  string
	Mirrors []Mirror
	// Index is the entry's place in the site's registries, for messages.
	Index int
}

// DockerHub reports whether the upstream is Docker Hub.
func (u Upstream) DockerHub() bool { return u.Name == DockerHub }

// Mirror is one checked mirror endpoint.
type Mirror struct {
	// URL is the endpoint as the site gives it, without a trailing slash.
	URL string
	// Host is its host[:port], as the runtimes name its certificate
	// directory and insecure registries.
	Host string
	// PlainHTTP is an http:// endpoint.
	PlainHTTP bool
	// CAFile is the host path of the PEM bundle that signs its certificate;
	// empty for the system's roots.
	CAFile string
	// CA is CAFile's content, read under the root; nil without CAFile.
	CA                 []byte
	InsecureSkipVerify bool
}

// Upstreams checks the site's registries and reads each mirror's CA under
// root. Every problem found is reported at once, as a *site.ValidationError
// (the CLI exits 2): site.Load checks the form of each entry, this what
// only the host can tell (the CA file is there and holds certificates),
// and again what a file must be to be rendered safely. Nil settings have
// none.
func Upstreams(root host.Root, s *site.Settings) ([]Upstream, error) {
	if s == nil {
		return nil, nil
	}
	var out []Upstream
	var problems []site.Problem
	add := func(key, msg string) {
		problems = append(problems, site.Problem{Key: key, Source: source, Message: msg})
	}
	seen := map[string]int{}
	for i, r := range s.Registries {
		at := fmt.Sprintf("registries[%d]", i)
		name, err := upstreamName(r.Upstream)
		if err != nil {
			add(at+".upstream", err.Error())
			continue
		}
		if j, dup := seen[name]; dup {
			add(at+".upstream", fmt.Sprintf("%s is registries[%d] already: list each registry once, with all its mirrors", name, j))
			continue
		}
		seen[name] = i
		u := Upstream{Name: name, Server: "https://" + name, Index: i}
		if name == DockerHub {
			u.Server = dockerHubServer
		}
		if len(r.Mirrors) == 0 {
			add(at+".mirrors", fmt.Sprintf("%s has no mirror: give at least one endpoint, or remove the entry", name))
		}
		for k, m := range r.Mirrors {
			mat := fmt.Sprintf("%s.mirrors[%d]", at, k)
			mm, errs := mirror(root, m)
			for _, e := range errs {
				add(mat+"."+e.field, e.msg)
			}
			if len(errs) == 0 {
				u.Mirrors = append(u.Mirrors, mm)
			}
		}
		out = append(out, u)
	}
	if len(problems) > 0 {
		return nil, &site.ValidationError{Problems: problems}
	}
	return out, nil
}

// upstreamName checks a registry's host[:port] and names Docker Hub by
// its reference name.
func upstreamName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("empty: give the registry's host as image names spell it, e.g. docker.io or harbor.example.com:8443")
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/\\ \t\"'") {
		return "", fmt.Errorf("%q is not a registry host: give host[:port] as image names spell it (docker.io, harbor.example.com:8443), no scheme or path", s)
	}
	h := s
	if hh, port, err := net.SplitHostPort(s); err == nil {
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return "", fmt.Errorf("%q: the port must be a number", s)
		}
		h = hh
	}
	if h == "" || h == "." || h == ".." || strings.HasPrefix(h, ".") || strings.ContainsAny(h, ":") {
		return "", fmt.Errorf("%q is not a registry host: give host[:port], e.g. harbor.example.com:8443", s)
	}
	switch s {
	case "docker.io", "index.docker.io", "registry-1.docker.io":
		return DockerHub, nil
	}
	return strings.ToLower(s), nil
}

// source is where the registries come from, for site.Problem.
const source = "site file"

// fieldProblem is a problem of one field of a mirror.
type fieldProblem struct{ field, msg string }

// mirror checks one endpoint and reads its CA.
func mirror(root host.Root, m site.Mirror) (Mirror, []fieldProblem) {
	var problems []fieldProblem
	out := Mirror{URL: strings.TrimSuffix(strings.TrimSpace(m.Endpoint), "/"), CAFile: m.CAFile, InsecureSkipVerify: m.InsecureSkipVerify}
	u, err := url.Parse(out.URL)
	switch {
	case out.URL == "":
		problems = append(problems, fieldProblem{"endpoint", "empty: give the mirror's URL, e.g. https://mirror.example.com:5000"})
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Hostname() == "":
		problems = append(problems, fieldProblem{"endpoint", fmt.Sprintf("%q is not a mirror URL: give https://host[:port] (http:// for a plain-HTTP mirror)", m.Endpoint)})
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		problems = append(problems, fieldProblem{"endpoint", fmt.Sprintf("%q: no credentials, query or fragment in a mirror URL", u.Redacted())})
	case strings.ContainsAny(out.URL, "\"\\ \t\n"):
		problems = append(problems, fieldProblem{"endpoint", fmt.Sprintf("%q: quotes, backslashes and spaces are not allowed", m.Endpoint)})
	default:
		out.Host, out.PlainHTTP = u.Host, u.Scheme == "http"
	}
	if m.CAFile != "" {
		ca, err := ReadCA(root, m.CAFile)
		if err != nil {
			problems = append(problems, fieldProblem{"caFile", err.Error()})
		}
		out.CA = ca
	}
	return out, problems
}

// ReadCA reads the PEM bundle at host path p under root and checks that it
// holds certificates and nothing else that PEM-encodes: a missing file, a
// directory, a key or a DER file is refused with what to do.
func ReadCA(root host.Root, p string) ([]byte, error) {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\"\\\n") {
		return nil, fmt.Errorf("%q must be an absolute path on the host (without quotes or backslashes)", p)
	}
	b, err := os.ReadFile(root.Path(p))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s does not exist: copy the CA bundle that signs the mirror's certificate there (PEM), or fix the path", p)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	n := 0
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s holds a PEM %q block: a CA bundle holds certificates only (never a private key)", p, blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("%s: certificate %d does not parse: %v", p, n+1, err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate: give the CA as PEM (openssl x509 -inform der -in ca.der -out ca.pem)", p)
	}
	return b, nil
}
