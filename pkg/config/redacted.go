package config

import "github.com/add2tkectl/add2tkectl/pkg/redact"

// Redacted returns a copy fit to print: the bootstrap token's secret half and
// the manifest URL's presigned query string are masked. The CA stays: it is
// public.
func (c *NodePoolJoin) Redacted() *NodePoolJoin {
	r := *c
	r.Cluster.BootstrapToken = redact.Token(c.Cluster.BootstrapToken)
	r.Artifacts.ManifestURL = redact.URL(c.Artifacts.ManifestURL)
	return &r
}
