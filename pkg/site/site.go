// Package site holds the settings an IDC has that no console knows: its
// HTTP proxy, its registry mirrors and private CAs, where node_exporter's
// textfile collector reads, and the CLI's own defaults. They live apart
// from the pool's document (/etc/add2tkectl/site.yaml under --root, the
// ADD2TKE_SITE_* environment and flags) and are owned by the operator.
package site

import "time"

// Path is the site file's place under --root.
const Path = "/etc/add2tkectl/site.yaml"

// Settings are the site's settings. The zero value is a site with none:
// no proxy, no mirrors, no metrics, the CLI's built-in defaults.
type Settings struct {
	Proxy      Proxy      `mapstructure:"proxy" json:"proxy"`
	Registries []Registry `mapstructure:"registries" json:"registries,omitempty"`
	Metrics    Metrics    `mapstructure:"metrics" json:"metrics"`
	CLI        CLI        `mapstructure:"cli" json:"cli"`
}

// Proxy is the HTTP proxy in front of everything outside the IDC.
type Proxy struct {
	// HTTP and HTTPS are proxy URLs (http://host:port); empty means none.
	HTTP  string `mapstructure:"http" json:"http,omitempty"`
	HTTPS string `mapstructure:"https" json:"https,omitempty"`
	// NoProxy are hosts, domains (.example.com) and CIDRs reached directly,
	// on top of those that never go through a proxy (see NoProxy).
	NoProxy []string `mapstructure:"noProxy" json:"noProxy,omitempty"`
}

// Enabled reports whether a proxy is configured.
func (p Proxy) Enabled() bool { return p.HTTP != "" || p.HTTPS != "" }

// Registry is an upstream image registry and the mirrors that stand in for
// it, tried in order before the upstream itself.
type Registry struct {
	// Upstream is the registry's host (docker.io, registry.k8s.io,
	// harbor.example.com:8443) as image names spell it.
	Upstream string   `mapstructure:"upstream" json:"upstream"`
	Mirrors  []Mirror `mapstructure:"mirrors" json:"mirrors"`
}

// Mirror is one endpoint of a registry mirror.
type Mirror struct {
	// Endpoint is the mirror's URL: https://mirror.idc:5000 (http:// for a
	// plain-HTTP mirror).
	Endpoint string `mapstructure:"endpoint" json:"endpoint"`
	// CAFile is a PEM bundle on the host that signs the mirror's
	// certificate (a private CA); empty means the system's roots.
	CAFile string `mapstructure:"caFile" json:"caFile,omitempty"`
	// InsecureSkipVerify accepts any certificate from the mirror.
	InsecureSkipVerify bool `mapstructure:"insecureSkipVerify" json:"insecureSkipVerify,omitempty"`
}

// Metrics says where to write the Prometheus textfile.
type Metrics struct {
	// TextfileDir is node_exporter's --collector.textfile.directory;
	// empty means no metrics file.
	TextfileDir string `mapstructure:"textfileDir" json:"textfileDir,omitempty"`
}

// CLI are the command line's own defaults; a flag given on the command
// line wins over them.
type CLI struct {
	LogLevel     string        `mapstructure:"logLevel" json:"logLevel,omitempty"`
	NoProgress   bool          `mapstructure:"noProgress" json:"noProgress,omitempty"`
	Timeout      time.Duration `mapstructure:"timeout" json:"timeout,omitempty"`
	ArtifactsDir string        `mapstructure:"artifactsDir" json:"artifactsDir,omitempty"`
}
