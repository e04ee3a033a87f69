package cli

import (
	"os"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// loadConfig returns the effective, validated configuration: --set flags over
// ADD2TKE_* variables over --config over the payload bundled into the
// executable over the defaults. Its errors (*config.LoadError,
// *config.ValidationError) exit 2.
func loadConfig(g *Globals) (*config.NodePoolJoin, error) {
	l, err := loadEffective(g)
	if err != nil {
		return nil, err
	}
	if err := l.Config.Validate(); err != nil {
		return nil, err
	}
	return l.Config, nil
}

// loadEffective merges every source without validating, for config view and
// config validate, which report an invalid configuration themselves.
func loadEffective(g *Globals) (*config.Loaded, error) {
	return config.Load(config.Options{
		Sets:       g.Set,
		Environ:    os.Environ(),
		File:       g.ConfigFile,
		Executable: g.Executable,
	})
}
