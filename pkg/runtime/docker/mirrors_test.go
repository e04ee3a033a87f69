package docker

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/internal/testca"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// siteMirrors has two Docker Hub mirrors (TLS with a private CA, plain
// HTTP) and one of a registry dockerd cannot mirror.
func siteMirrors() *site.Settings {
	return &site.Settings{Registries: []site.Registry{
		{Upstream: "harbor.example.com:8443", Mirrors: []site.Mirror{{Endpoint: "https://harbor-cache.idc"}}},
		{Upstream: "docker.io", Mirrors: []site.Mirror{
			{Endpoint: "https://10.77.0.1:5000", CAFile: "/etc/add2tkectl/mirror-ca.pem"},
			{Endpoint: "https://self-signed.idc", InsecureSkipVerify: true},
			{Endpoint: "http://mirror.idc:5001"},
		}},
	}}
}

func TestRenderDaemonJSONWithMirrors(t *testing.T) {
	b, err := RenderDaemonJSON(DaemonParams{DataRoot: "/data/docker",
		RegistryMirrors:    []string{"https://10.77.0.1:5000", "https://self-signed.idc", "http://mirror.idc:5001"},
		InsecureRegistries: []string{"self-signed.idc", "mirror.idc:5001"}})
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "daemon.json-mirrors", b)
}

func TestFilesGiveDockerHubMirrorsTheirCAAndWarnOfOthers(t *testing.T) {
	d, _, _ := newDeps(t, "1.30.4")
	ca := testca.Write(t, d.Root.Dir, "/etc/add2tkectl/mirror-ca.pem", "mirror CA")
	d.Site = siteMirrors()
	files, warnings, err := Files(d)
	if err != nil {
		t.Fatal(err)
	}
	var dj struct {
		Mirrors  []string `json:"registry-mirrors"`
		Insecure []string `json:"insecure-registries"`
	}
	if err := json.Unmarshal(files[DaemonJSONPath].Data, &dj); err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://10.77.0.1:5000", "https://self-signed.idc", "http://mirror.idc:5001"}; !reflect.DeepEqual(dj.Mirrors, want) {
		t.Errorf("registry-mirrors = %v, want %v (Docker Hub's, in order)", dj.Mirrors, want)
	}
	if want := []string{"self-signed.idc", "mirror.idc:5001"}; !reflect.DeepEqual(dj.Insecure, want) {
		t.Errorf("insecure-registries = %v, want %v", dj.Insecure, want)
	}
	f, ok := files["/etc/docker/certs.d/10.77.0.1:5000/ca.crt"]
	if !ok {
		t.Fatalf("no ca.crt for the mirror in %v", keys(files))
	}
	if !strings.HasSuffix(string(f.Data), string(ca)) || f.Mode != 0o644 {
		t.Errorf("ca.crt = %q (mode %v), want the caFile's PEM", f.Data, f.Mode)
	}
	// What dockerd does with it: the header is skipped, the CA is read.
	if !x509.NewCertPool().AppendCertsFromPEM(f.Data) {
		t.Error("ca.crt does not load as a CA bundle")
	}
	if n := strings.Count(strings.Join(keys(files), " "), "ca.crt"); n != 1 {
		t.Errorf("%d CA files, want 1 (only one mirror has a caFile)", n)
	}
	joined := strings.Join(warnings, "\n")
	if !strings.Contains(joined, "harbor.example.com:8443") || !strings.Contains(joined, "dockerd mirrors only docker.io") {
		t.Errorf("warnings %q: want harbor named as not mirrored", warnings)
	}

	// Without a site, daemon.json has neither key.
	d.Site = nil
	files, _, err = Files(d)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(files[DaemonJSONPath].Data); strings.Contains(s, "registry-mirrors") || strings.Contains(s, "insecure-registries") {
		t.Errorf("daemon.json without a site:\n%s", s)
	}
}

func TestFilesRefuseAMissingMirrorCA(t *testing.T) {
	d, _, _ := newDeps(t, "1.30.4")
	d.Site = siteMirrors()
	_, _, err := Files(d)
	var ve *site.ValidationError
	if !errors.As(err, &ve) || !strings.Contains(err.Error(), "registries[1].mirrors[0].caFile (site file): /etc/add2tkectl/mirror-ca.pem does not exist") {
		t.Fatalf("err = %v, want a site.ValidationError naming the missing caFile", err)
	}
}

// A new mirror list restarts dockerd (daemon.json changed); a mirror
// dropped from the site takes its CA along, and the operator's own CA
// stays.
func TestInstallConvergesTheMirrors(t *testing.T) {
	ctx := context.Background()
	d, fake, rec := newDeps(t, "1.30.4")
	testca.Write(t, d.Root.Dir, "/etc/add2tkectl/mirror-ca.pem", "mirror CA")
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	own := testca.Write(t, d.Root.Dir, "/etc/docker/certs.d/registry.idc/ca.crt", "operator's CA")

	d.Site = siteMirrors()
	fake.ResetCalls()
	if changed, err := Install(ctx, d); err != nil || !changed {
		t.Fatalf("Install with mirrors = %v, %v", changed, err)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"restart docker.service"}) {
		t.Errorf("systemd calls %v, want dockerd restarted for its new daemon.json", got)
	}
	caPath := CAPath("10.77.0.1:5000")
	if _, ok := rec.Files[caPath]; !ok {
		t.Errorf("%s not in the journal: uninstall would leave it", caPath)
	}
	if ok, err := Satisfied(ctx, d); err != nil || !ok {
		t.Fatalf("Satisfied = %v, %v", ok, err)
	}

	d.Site = nil
	if ok, _ := Satisfied(ctx, d); ok {
		t.Error("Satisfied with a dropped mirror's CA left")
	}
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Root.Path(CertsDir + "/10.77.0.1:5000")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dropped mirror's CA dir: %v, want it gone", err)
	}
	if b, err := os.ReadFile(d.Root.Path("/etc/docker/certs.d/registry.idc/ca.crt")); err != nil || string(b) != string(own) {
		t.Errorf("the operator's CA: %v, want it untouched", err)
	}
	if ok, err := Satisfied(ctx, d); err != nil || !ok {
		t.Errorf("Satisfied after the sweep = %v, %v", ok, err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
