package site

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// Redacted returns a copy fit to print: the password of a proxy's or a
// mirror's URL (http://user:pass@proxy:3128) is shown as ***.
func (s *Settings) Redacted() *Settings {
	r := *s
	r.Proxy.HTTP = redact.Userinfo(s.Proxy.HTTP)
	r.Proxy.HTTPS = redact.Userinfo(s.Proxy.HTTPS)
	r.Proxy.NoProxy = append([]string(nil), s.Proxy.NoProxy...)
	r.Registries = make([]Registry, len(s.Registries))
	for i, reg := range s.Registries {
		reg.Mirrors = append([]Mirror(nil), reg.Mirrors...)
		for j := range reg.Mirrors {
			reg.Mirrors[j].Endpoint = redact.Userinfo(reg.Mirrors[j].Endpoint)
		}
		r.Registries[i] = reg
	}
	if len(r.Registries) == 0 {
		r.Registries = nil
	}
	return &r
}

// cliJSON is CLI with its timeout as a duration's text (10m0s), not nanoseconds.
type cliJSON struct {
	LogLevel     string `json:"logLevel,omitempty"`
	NoProgress   bool   `json:"noProgress,omitempty"`
	Timeout      string `json:"timeout,omitempty"`
	ArtifactsDir string `json:"artifactsDir,omitempty"`
}

// MarshalJSON writes the timeout as text: "timeout": "10m0s".
func (c CLI) MarshalJSON() ([]byte, error) {
	j := cliJSON{LogLevel: c.LogLevel, NoProgress: c.NoProgress, ArtifactsDir: c.ArtifactsDir}
	if c.Timeout != 0 {
		j.Timeout = c.Timeout.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CLI) UnmarshalJSON(b []byte) error {
	var j cliJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = CLI{LogLevel: j.LogLevel, NoProgress: j.NoProgress, ArtifactsDir: j.ArtifactsDir}
	if j.Timeout != "" {
		d, err := time.ParseDuration(j.Timeout)
		if err != nil {
			return fmt.Errorf("cli.timeout: %w", err)
		}
		c.Timeout = d
	}
	return nil
}
