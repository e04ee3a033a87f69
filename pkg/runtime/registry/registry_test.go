package registry

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/testca"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

func TestUpstreamsNameDockerHubAndReadTheCAUnderRoot(t *testing.T) {
	root := t.TempDir()
	ca := testca.Write(t, root, "/etc/pki/mirror-ca.pem", "mirror CA")
	s := &site.Settings{Registries: []site.Registry{
		{Upstream: "index.docker.io", Mirrors: []site.Mirror{
			{Endpoint: "https://mirror.idc:5000/", CAFile: "/etc/pki/mirror-ca.pem"},
			{Endpoint: "http://10.0.0.9:5000", InsecureSkipVerify: true},
		}},
		{Upstream: "Harbor.Example.com:8443", Mirrors: []site.Mirror{{Endpoint: "https://harbor-cache.idc"}}},
	}}
	ups, err := Upstreams(host.Root{Dir: root}, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(ups) != 2 {
		t.Fatalf("got %d upstreams", len(ups))
	}
	hub := ups[0]
	if hub.Name != "docker.io" || !hub.DockerHub() || hub.Server != "https://registry-1.docker.io" {
		t.Errorf("Docker Hub = %+v", hub)
	}
	m := hub.Mirrors[0]
	if m.URL != "https://mirror.idc:5000" || m.Host != "mirror.idc:5000" || m.PlainHTTP || string(m.CA) != string(ca) {
		t.Errorf("TLS mirror = %+v", m)
	}
	if p := hub.Mirrors[1]; p.Host != "10.0.0.9:5000" || !p.PlainHTTP || !p.InsecureSkipVerify || p.CA != nil {
		t.Errorf("plain-HTTP mirror = %+v", p)
	}
	if h := ups[1]; h.Name != "harbor.example.com:8443" || h.Server != "https://harbor.example.com:8443" || h.DockerHub() {
		t.Errorf("harbor = %+v", h)
	}
	if ups, err := Upstreams(host.Root{Dir: root}, nil); err != nil || ups != nil {
		t.Errorf("no site: %v, %v", ups, err)
	}
}

// Every problem of the site's registries comes at once, naming the field
// and what to do, as a site.ValidationError (exit 2).
func TestUpstreamsReportEveryProblemWithItsField(t *testing.T) {
	root := t.TempDir()
	full := filepath.Join(root, "/etc/pki")
	if err := os.MkdirAll(full, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(full, "key.pem"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
	os.WriteFile(filepath.Join(full, "ca.der"), []byte{0x30, 0x82, 0x01}, 0o644)
	s := &site.Settings{Registries: []site.Registry{
		{Upstream: "https://docker.io", Mirrors: []site.Mirror{{Endpoint: "https://m"}}},
		{Upstream: "../../etc", Mirrors: []site.Mirror{{Endpoint: "https://m"}}},
		{Upstream: "quay.io"},
		{Upstream: "ghcr.io", Mirrors: []site.Mirror{
			{Endpoint: "mirror.idc:5000"},
			{Endpoint: "https://u:secret@mirror.idc"},
			{Endpoint: "https://mirror.idc", CAFile: "/etc/pki/missing.pem"},
			{Endpoint: "https://mirror.idc", CAFile: "/etc/pki/key.pem"},
			{Endpoint: "https://mirror.idc", CAFile: "/etc/pki/ca.der"},
			{Endpoint: "https://mirror.idc", CAFile: "etc/pki/relative.pem"},
		}},
		{Upstream: "ghcr.io", Mirrors: []site.Mirror{{Endpoint: "https://m"}}},
	}}
	_, err := Upstreams(host.Root{Dir: root}, s)
	var ve *site.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a *site.ValidationError", err)
	}
	for _, want := range []string{
		`registries[0].upstream (site file): "https://docker.io" is not a registry host`,
		`registries[1].upstream (site file): "../../etc" is not a registry host`,
		"registries[2].mirrors (site file): quay.io has no mirror",
		`registries[3].mirrors[0].endpoint (site file): "mirror.idc:5000" is not a mirror URL: give https://host[:port]`,
		"registries[3].mirrors[1].endpoint (site file): \"https://u:xxxxx@mirror.idc\": no credentials",
		"registries[3].mirrors[2].caFile (site file): /etc/pki/missing.pem does not exist: copy the CA bundle",
		`registries[3].mirrors[3].caFile (site file): /etc/pki/key.pem holds a PEM "PRIVATE KEY" block`,
		"registries[3].mirrors[4].caFile (site file): /etc/pki/ca.der holds no PEM certificate",
		`registries[3].mirrors[5].caFile (site file): "etc/pki/relative.pem" must be an absolute path`,
		"registries[4].upstream (site file): ghcr.io is registries[3] already",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows a mirror's password: %v", err)
	}
	if len(ve.Problems) != 10 {
		t.Errorf("%d problems, want 10:\n%v", len(ve.Problems), err)
	}
}
