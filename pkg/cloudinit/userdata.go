// Package cloudinit renders the #cloud-config user-data that joins a host on
// its first boot: fetch the bundled binary from the operator's mirror with
// retries, verify its sha256 before anything runs, and hand over to the
// first-boot unit (package firstboot).
package cloudinit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
)

// Params are what the user-data is made of. None is secret: the bundle
// carries the pool's secrets, the user-data only where it is and its hash.
type Params struct {
	// URL is where the operator's mirror serves the bundled binary.
	URL string
	// SHA256 is the binary's hex sha256.
	SHA256 string
	// Name is the binary's file name, add2tkectl-<cls>-<np>.
	Name string
}

// Check refuses what would not work or would leak: a URL that is not
// plain http(s), or that carries credentials (user-data is world-readable
// in the instance's metadata and copied into /var/log/cloud-init*.log).
func (p Params) Check() error {
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--url %q: give the http(s) URL where your mirror serves %s", p.URL, p.Name)
	}
	if u.User != nil {
		return fmt.Errorf("--url: credentials in the URL would be copied into the user-data and cloud-init's logs; serve %s from a mirror the host reaches without them", p.Name)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--url: a query string (such as a presigned link) would be copied into the user-data and cloud-init's logs, and expire; serve %s from a plain URL on your mirror", p.Name)
	}
	if strings.ContainsAny(p.URL, "'\"\\$` \t\n") {
		return fmt.Errorf("--url %q: quote characters, spaces and $ are not allowed; percent-encode them", p.URL)
	}
	if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
		return fmt.Errorf("sha256 %q is not 64 hex digits", p.SHA256)
	}
	if p.Name == "" || path.Base(p.Name) != p.Name || strings.ContainsAny(p.Name, "'\"\\$` \t\n") {
		return fmt.Errorf("binary name %q must be a plain file name", p.Name)
	}
	return nil
}

// The fetch runs as cloud-init's runcmd: one script under `set -eu`, so a
// failed step stops it (runcmd alone reports only its last command's
// status). curl retries every error with its exponential backoff (1 s
// doubling, up to 10 min in all); the file goes to a temporary name, is
// verified, and only then becomes executable under its own name. The unit
// is started with --no-block: it is ordered after cloud-final.service, in
// which this script runs, so a blocking start would wait for itself.
var fetchScript = template.Must(template.New("fetch").Parse(`set -eu
bin={{.Bin}}
tmp="$bin.download"
echo "add2tkectl: fetching {{.URL}}"
rm -f "$tmp"
curl --fail --silent --show-error --location --connect-timeout 10 --max-time 900 \
  --retry 12 --retry-all-errors --retry-max-time 900 -o "$tmp" '{{.URL}}'
if ! echo '{{.SHA256}}  '"$tmp" | sha256sum --check --strict --status -; then
  echo "add2tkectl: {{.URL}} is not the binary this user-data was made for:" >&2
  echo "add2tkectl: sha256 $(sha256sum "$tmp" | cut -d' ' -f1), want {{.SHA256}}; nothing was run" >&2
  rm -f "$tmp"
  exit 1
fi
chmod 0700 "$tmp"
mv -f "$tmp" "$bin"
systemctl daemon-reload
systemctl enable {{.Unit}}
systemctl start --no-block {{.Unit}}
echo "add2tkectl: {{.Unit}} started: journalctl -u {{.Unit}}; $bin status"
`))

type writeFile struct {
	Path        string `yaml:"path"`
	Owner       string `yaml:"owner"`
	Permissions string `yaml:"permissions"`
	Content     string `yaml:"content"`
}

type document struct {
	WriteFiles []writeFile `yaml:"write_files"`
	Runcmd     []string    `yaml:"runcmd"`
}

// Render returns the user-data. The unit goes in through write_files
// (cloud-init's init stage, before the network); the fetch and the
// hand-over are runcmd (its final stage, after network-online.target).
func Render(p Params) ([]byte, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	unit, err := firstboot.RenderUnit(p.Name)
	if err != nil {
		return nil, err
	}
	var script bytes.Buffer
	err = fetchScript.Execute(&script, map[string]string{
		"Bin": path.Join(firstboot.BinDir, p.Name), "URL": p.URL, "SHA256": p.SHA256, "Unit": firstboot.UnitName,
	})
	if err != nil {
		return nil, err
	}
	doc := document{
		WriteFiles: []writeFile{{Path: firstboot.UnitPath, Owner: "root:root", Permissions: "0644", Content: string(unit)}},
		Runcmd:     []string{script.String()},
	}
	var b bytes.Buffer
	b.WriteString("#cloud-config\n")
	fmt.Fprintf(&b, "# Joins this host on first boot as a node of %s: fetches the bundled binary,\n", p.Name)
	b.WriteString("# checks its sha256, and hands over to " + firstboot.UnitName + ".\n")
	b.WriteString("# Made by `" + p.Name + " cloud-init --url URL`; it holds no secret.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
