package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// configSourcesHelp is shared by the help of every command that reads the
// configuration.
const configSourcesHelp = `Where the configuration comes from, highest precedence first:
  --set path=value      e.g. --set nodePool.cordon=true, --set cluster.kubernetesVersion=1.35.4,
                        --set nodePool.labels.tke.cloud.tencent.com/location=idc-sh-01
                        (past a mapping such as labels the rest of the path is one key);
                        lists and mappings are written in YAML: --set 'nodePool.taints=[{key: a, effect: NoSchedule}]';
                        secrets (bootstrap token, presigned URL) are refused here: ps shows arguments
  ADD2TKE_<PATH>        the field path upper-cased with _ between fields, e.g.
                        ADD2TKE_NODEPOOL_CORDON=true, ADD2TKE_CLUSTER_BOOTSTRAPTOKEN=...,
                        ADD2TKE_NODEPOOL_LABELS='{tke.cloud.tencent.com/location: idc-sh-01}';
                        an empty variable is unset; a misspelt one is an error
  --config FILE         YAML or JSON
  the payload bundled into this executable (see "add2tkectl bundle")
  defaults              apiVersion, kind, cluster.network.plugin=cilium-vxlan,
                        nodePool.runtime.kind=containerd, nodePool.runtime.dataDir
Mappings (labels, kubelet extraArgs/extraConfig) merge key by key across sources;
lists and single values of a higher source replace. Unknown fields are errors.`

// ConfigValidation is what config validate prints with -o json|yaml.
type ConfigValidation struct {
	Valid           bool                `json:"valid"`
	Sources         []string            `json:"sources"`
	NeedsCRIDockerd bool                `json:"needsCRIDockerd"`
	Errors          []config.FieldError `json:"errors,omitempty"`
}

func newConfigCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show or check the effective configuration",
		Long:  "Show or check the effective configuration.\n\n" + configSourcesHelp,
	}
	cmd.AddCommand(needsSite(&cobra.Command{
		Use:   "view",
		Short: "Print the effective configuration and site settings, secrets redacted",
		Long: `view prints the effective configuration (YAML, or JSON with -o json) with the
bootstrap token's secret half and the manifest URL's presigned query string
replaced by REDACTED, and beside it, under "site", the effective site settings
(` + site.Path + ` under --root or --site, ADD2TKE_SITE_* variables, flags) with
a proxy's password shown as ***. An invalid configuration is printed too, and
its errors make the exit code 2; invalid site settings exit 2 before.

` + configSourcesHelp,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc config view
  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc config view -o json --set nodePool.cordon=true`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runConfigView(g) },
	}), needsSite(&cobra.Command{
		Use:   "validate",
		Short: "Check the effective configuration; exit 0 if valid, 2 with every error if not",
		Long:  "validate checks every rule and reports every broken one, each with its field path.\n\n" + configSourcesHelp,
		Example: `  add2tkectl config validate --config pool.yaml
  ADD2TKE_NODEPOOL_CORDON=true ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc config validate -o json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runConfigValidate(g) },
	}))
	return cmd
}

// configView is what config view prints: the pool's document as it is,
// and beside it, under site, the effective site settings.
type configView struct {
	*config.NodePoolJoin
	Site *site.Settings `json:"site,omitempty"`
}

func runConfigView(g *Globals) error {
	l, err := loadEffective(g)
	if err != nil {
		return err
	}
	red := configView{NodePoolJoin: l.Config.Redacted()}
	if g.Site != nil {
		red.Site = g.Site.Redacted()
	}
	if g.Output == "json" {
		err = writeResult(g, red)
	} else {
		var b []byte
		if b, err = yaml.Marshal(red); err == nil {
			_, err = g.Stdout.Write(b)
		}
	}
	if err != nil {
		return err
	}
	return l.Config.Validate()
}

func runConfigValidate(g *Globals) error {
	l, err := loadEffective(g)
	if err != nil {
		return err
	}
	verr := l.Config.Validate()
	res := ConfigValidation{Valid: verr == nil, Sources: l.Sources, NeedsCRIDockerd: verr == nil && l.Config.NeedsCRIDockerd()}
	var ve *config.ValidationError
	if errors.As(verr, &ve) {
		res.Errors = ve.Errors
	}
	if g.Output != "text" {
		if err := writeResult(g, res); err != nil {
			return err
		}
		return verr
	}
	if verr != nil {
		return verr
	}
	var b strings.Builder
	b.WriteString("configuration is valid\nsources, highest precedence first:\n")
	for _, s := range l.Sources {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	if res.NeedsCRIDockerd {
		fmt.Fprintf(&b, "docker on Kubernetes %s: cri-dockerd joins the install plan\n", l.Config.Cluster.KubernetesVersion)
	}
	_, err = fmt.Fprint(g.Stdout, b.String())
	return err
}
