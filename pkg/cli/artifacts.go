package cli

import "github.com/spf13/cobra"

func newArtifactsCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifacts",
		Short: "Pre-stage, sign and manage the artifact manifest",
	}
	pull := &cobra.Command{
		Use:     "pull --to DIR",
		Short:   "Download and verify every artifact for this host into DIR, for --artifacts-dir",
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc artifacts pull --to /mnt/add2tke-offline --arch arm64`,
		Args:    cobra.NoArgs,
		RunE:    notImplemented("artifacts pull"),
	}
	pull.Flags().String("to", "", "directory to fill")
	pull.Flags().String("arch", "", "architecture to pull for (default: this host's)")
	keygen := &cobra.Command{
		Use:     "keygen --out PREFIX",
		Short:   "Write an ed25519 key pair: PREFIX.key (PKCS#8 PEM) and PREFIX.pub (PKIX PEM)",
		Example: `  add2tkectl artifacts keygen --out release`,
		Args:    cobra.NoArgs,
		RunE:    notImplemented("artifacts keygen"),
	}
	keygen.Flags().String("out", "", "path prefix of the key files")
	sign := &cobra.Command{
		Use:     "sign --key KEY.pem MANIFEST.json",
		Short:   "Sign a manifest and write its DSSE envelope",
		Example: `  add2tkectl artifacts sign --key release.key payload.json --out manifest.json`,
		Args:    cobra.ExactArgs(1),
		RunE:    notImplemented("artifacts sign"),
	}
	sign.Flags().String("key", "", "ed25519 private key (PKCS#8 PEM)")
	sign.Flags().String("out", "", "write the envelope here (default: standard output)")
	cmd.AddCommand(pull, keygen, sign)
	return cmd
}
