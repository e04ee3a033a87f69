package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

func newArtifactsCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifacts",
		Short: "Pre-stage, sign and manage the artifact manifest",
		Long: `The artifact manifest is a DSSE envelope (payloadType
application/vnd.add2tke.manifest+json) whose payload lists each artifact:
{"schemaVersion":1,"expires":RFC 3339 (optional),"artifacts":[{"name",
"version","os","arch","kind" (binary|tar.gz|image),"urls","size","sha256"}]},
signed with ed25519 over DSSE's PAE. Install and pull refuse a manifest past
its expiry, or whose kubelet or runtime version is not the configuration's
(exit 4). "keygen" makes a key pair, "sign" signs a payload, "pull" fills
an offline directory for install --artifacts-dir.`,
	}
	pull := &cobra.Command{
		Use:   "pull --to DIR",
		Short: "Download and verify every artifact for this host into DIR, for --artifacts-dir",
		Long: `Fetches the configuration's manifest (artifacts.manifestURL), verifies it with
artifacts.publicKey (and that its kubelet and runtime are the configuration's
versions and it has not expired), downloads every artifact for linux/<arch> through the
cache under --root (/var/cache/add2tkectl) and lays out DIR for
"install --artifacts-dir DIR": the envelope as manifest.json and each artifact
as <name>-<version>-<os>-<arch> ('/' in the name becomes '_').
Exit 4: bad signature, checksum or download; exit 5: the link expired.`,
		Example: `  ./add2tkectl-cls-m57oxxxp-np-3kd9a1bc artifacts pull --to /mnt/add2tke-offline --arch arm64`,
		Args:    cobra.NoArgs,
	}
	to := pull.Flags().String("to", "", "directory to fill")
	arch := pull.Flags().String("arch", "", "architecture to pull for (default: this host's)")
	pull.RunE = func(cmd *cobra.Command, _ []string) error { return runPull(cmd, g, *to, *arch) }

	keygen := &cobra.Command{
		Use:   "keygen --out PREFIX",
		Short: "Write an ed25519 key pair: PREFIX.key (PKCS#8 PEM) and PREFIX.pub (PKIX PEM)",
		Long: `Writes PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (PKIX PEM), the formats
of "openssl genpkey -algorithm ed25519". Existing files are not overwritten.
Put PREFIX.pub into the configuration's artifacts.publicKey.`,
		Example: `  add2tkectl artifacts keygen --out release`,
		Args:    cobra.NoArgs,
	}
	out := keygen.Flags().String("out", "", "path prefix of the key files")
	keygen.RunE = func(*cobra.Command, []string) error { return runKeygen(g, *out) }

	sign := &cobra.Command{
		Use:   "sign --key KEY.pem MANIFEST.json",
		Short: "Sign a manifest and write its DSSE envelope",
		Long: `Validates the manifest payload MANIFEST.json (schemaVersion 1; name, version,
os, arch, kind, urls, size, sha256 for each artifact), signs its bytes as they
are with the ed25519 key (PKCS#8 PEM, as keygen or openssl writes it) and
writes the DSSE envelope to --out (mode 0600, replaced atomically), or to
standard output. With --expires the payload gets "expires" (now + the
duration, RFC 3339) before it is signed: after it, install refuses the
manifest and it must be signed and published again.`,
		Example: `  add2tkectl artifacts sign --key release.key payload.json --out manifest.json --expires 720h`,
		Args:    cobra.ExactArgs(1),
	}
	key := sign.Flags().String("key", "", "ed25519 private key (PKCS#8 PEM)")
	signOut := sign.Flags().String("out", "", "write the envelope here (default: standard output)")
	expires := sign.Flags().Duration("expires", 0, "the manifest expires this long after signing, e.g. 720h (default: never)")
	sign.RunE = func(_ *cobra.Command, args []string) error {
		return runSign(g, *key, args[0], *signOut, *expires)
	}

	// pull downloads as install does: through the site's proxy.
	cmd.AddCommand(needsSite(pull), keygen, sign)
	return cmd
}

func runKeygen(g *Globals, prefix string) error {
	if prefix == "" {
		return usageErrorf("--out PREFIX is required (writes PREFIX.key and PREFIX.pub)")
	}
	priv, pub, err := artifact.GenerateKey()
	if err != nil {
		return err
	}
	for _, p := range []string{prefix + ".key", prefix + ".pub"} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s exists; remove it or choose another --out prefix", p)
		}
	}
	if err := writeNew(prefix+".key", priv, 0o600); err != nil {
		return err
	}
	if err := writeNew(prefix+".pub", pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.Stderr, "wrote %s.key (keep it secret) and %s.pub (artifacts.publicKey)\n", prefix, prefix)
	return nil
}

// writeNew creates a file that must not exist yet, with exactly mode.
func writeNew(p string, data []byte, mode fs.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil { // the umask must not widen or narrow it
		f.Close()
		return err
	}
	return f.Close()
}

func runSign(g *Globals, keyPath, payloadPath, out string, expires time.Duration) error {
	if keyPath == "" {
		return usageErrorf("--key KEY.pem is required")
	}
	if expires < 0 {
		return usageErrorf("--expires %s: give a positive duration such as 720h", expires)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return err
	}
	priv, err := artifact.ParsePrivateKey(keyPEM)
	if err != nil {
		return usageErrorf("--key %s: %v", keyPath, err)
	}
	payload, err := os.ReadFile(payloadPath)
	if err != nil {
		return err
	}
	m, err := artifact.ParseManifest(payload)
	if err != nil {
		return fmt.Errorf("%s: %w", payloadPath, err)
	}
	if expires > 0 {
		at := time.Now().Add(expires).UTC().Truncate(time.Second)
		m.Expires = &at
		if payload, err = json.Marshal(m); err != nil {
			return err
		}
	}
	env, err := artifact.Sign(payload, priv)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = g.Stdout.Write(env)
		return err
	}
	// 0600 from the first byte (the envelope may carry presigned URLs);
	// a symlink at out is replaced, not followed.
	return atomicfile.Write(out, env, 0o600)
}

// pullResult is the -o json|yaml result of artifacts pull.
type pullResult struct {
	Dir       string       `json:"dir"`
	OS        string       `json:"os"`
	Arch      string       `json:"arch"`
	Artifacts []pulledFile `json:"artifacts"`
}

type pulledFile struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	File     string `json:"file"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	CacheHit bool   `json:"cacheHit"`
}

func runPull(cmd *cobra.Command, g *Globals, to, arch string) error {
	if to == "" {
		return usageErrorf("--to DIR is required")
	}
	if arch == "" {
		arch = runtime.GOARCH
	}
	cfg, err := loadConfig(g)
	if err != nil {
		return err
	}
	log, closeLog, err := setupLogging(g)
	if err != nil {
		return err
	}
	defer closeLog()
	ctx, cancel := signalContext(cmd.Context(), log)
	defer cancel()

	progress, progressDone := newProgress(g)
	defer progressDone()
	f := &artifact.Fetcher{
		CacheDir: filepath.Join(g.Root, paths.CacheDir),
		Client:   artifact.NewClient(site.ProxyOf(g.Site).ProxyFunc(site.Node{})),
		Progress: progress,
		Log:      log,
	}
	url, pub := cfg.Artifacts.ManifestURL, cfg.Artifacts.PublicKey
	env, err := f.FetchManifest(ctx, url)
	if err != nil {
		return err
	}
	m, err := artifact.VerifyManifest(env, url, pub)
	if err != nil {
		return err
	}
	// What install would refuse is not worth staging.
	if err := m.CheckPins(install.Pins(cfg)); err != nil {
		return err
	}
	locals, err := f.Fetch(ctx, url, m, "linux", arch, "")
	progress.Wait()
	if err != nil {
		return err
	}
	if _, err := artifact.WriteOffline(to, env, locals); err != nil {
		return err
	}
	res := pullResult{Dir: to, OS: "linux", Arch: arch}
	for _, a := range m.Artifacts {
		if l, ok := locals[a.Name]; ok && a.OS == "linux" && a.Arch == arch {
			res.Artifacts = append(res.Artifacts, pulledFile{Name: a.Name, Version: a.Version,
				File: artifact.OfflineName(a), Size: a.Size, SHA256: a.SHA256, CacheHit: l.CacheHit})
		}
	}
	if g.Output != "text" {
		return writeResult(g, res)
	}
	var total int64
	for _, a := range res.Artifacts {
		total += a.Size
	}
	fmt.Fprintf(g.Stdout, "pulled %d artifacts (%s) for linux/%s into %s; use it with install --artifacts-dir %s\n",
		len(res.Artifacts), artifact.HumanBytes(total), arch, to, to)
	return nil
}
