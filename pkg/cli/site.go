package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// siteAnnotation marks a command that acts on the host and so reads the
// site settings: a broken site file fails it with exit 2. version and
// completion never read them.
const siteAnnotation = "add2tkectl/site"

// needsSite marks cmd as reading the site settings.
func needsSite(cmd *cobra.Command) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[siteAnnotation] = "true"
	return cmd
}

// siteBinding is a flag that sets a site key. Commands, when set, are the
// only commands whose flag of that name is the setting (render's
// --artifacts-dir is not install's).
type siteBinding struct {
	key, flag string
	commands  []string
}

var siteBindings = []siteBinding{
	{key: "proxy.http", flag: "proxy-http"},
	{key: "proxy.https", flag: "proxy-https"},
	{key: "proxy.noProxy", flag: "no-proxy"},
	{key: "metrics.textfileDir", flag: "metrics-textfile-dir"},
	{key: "cli.logLevel", flag: "log-level"},
	{key: "cli.noProgress", flag: "no-progress"},
	{key: "cli.timeout", flag: "timeout", commands: []string{"install", "uninstall"}},
	{key: "cli.artifactsDir", flag: "artifacts-dir", commands: []string{"install"}},
}

// addSiteFlags adds the persistent flags of the site settings.
func addSiteFlags(pf *pflag.FlagSet, g *Globals) {
	pf.StringVar(&g.SiteFile, "site", "", "site settings file (default "+site.Path+" under --root, if it exists)")
	pf.String("proxy-http", "", "HTTP proxy URL for downloads, the runtime and kubelet, e.g. http://proxy.idc:3128 (site proxy.http)")
	pf.String("proxy-https", "", "proxy URL for HTTPS (site proxy.https)")
	pf.StringSlice("no-proxy", nil, "hosts, domains (.example.com) and CIDRs reached without the proxy, comma separated (site proxy.noProxy)")
	pf.String("metrics-textfile-dir", "", "node_exporter's textfile directory (under --root) to write add2tkectl.prom into (site metrics.textfileDir)")
}

// loadSite reads the site settings for cmd into g.Site when cmd acts on
// the host, and gives the CLI's flags that were not on the command line
// their values from the site (cli.logLevel for --log-level, ...).
func loadSite(cmd *cobra.Command, g *Globals) error {
	if cmd.Annotations[siteAnnotation] == "" {
		return nil
	}
	var flags []site.Flag
	for _, b := range siteBindings {
		f := bindingFlag(cmd, b)
		if f == nil || !f.Changed {
			continue
		}
		flags = append(flags, site.Flag{Key: b.key, Name: "--" + b.flag, Value: flagValue(f)})
	}
	s, err := site.Load(site.Options{
		Root:    host.Root{Dir: g.Root},
		File:    g.SiteFile,
		Environ: os.Environ(),
		Flags:   flags,
	})
	if err != nil {
		return err
	}
	g.Site = s
	// The effective value of every bound flag is the site's now (a flag
	// given wins inside site.Load); Value.Set keeps Changed as it was.
	for _, b := range siteBindings {
		f := bindingFlag(cmd, b)
		if f == nil || f.Changed {
			continue
		}
		var v string
		switch b.key {
		case "cli.logLevel":
			v = s.CLI.LogLevel
		case "cli.noProgress":
			v = strconv.FormatBool(s.CLI.NoProgress)
		case "cli.timeout":
			v = s.CLI.Timeout.String()
		case "cli.artifactsDir":
			v = s.CLI.ArtifactsDir
		default:
			continue // proxy and metrics are read from g.Site
		}
		if err := f.Value.Set(v); err != nil {
			return fmt.Errorf("--%s from the site settings: %w", b.flag, err)
		}
	}
	return nil
}

func bindingFlag(cmd *cobra.Command, b siteBinding) *pflag.Flag {
	if len(b.commands) > 0 {
		ok := false
		for _, c := range b.commands {
			ok = ok || cmd.Name() == c
		}
		if !ok {
			return nil
		}
	}
	return cmd.Flags().Lookup(b.flag)
}

// flagValue is a flag's parsed value as site.Load takes it.
func flagValue(f *pflag.Flag) any {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	switch f.Value.Type() {
	case "bool":
		b, _ := strconv.ParseBool(f.Value.String())
		return b
	case "duration":
		d, _ := time.ParseDuration(f.Value.String())
		return d
	}
	v := f.Value.String()
	if f.Name == "log-level" && strings.EqualFold(v, "warning") {
		v = "warn" // logrus's spelling, accepted before the site settings were
	}
	return v
}
