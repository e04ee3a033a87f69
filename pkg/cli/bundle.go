package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// BundleResult is what bundle prints with -o json|yaml.
type BundleResult struct {
	Path         string `json:"path"`
	ClusterID    string `json:"clusterID"`
	NodePoolID   string `json:"nodePoolID"`
	Bytes        int64  `json:"bytes"`
	PayloadBytes int    `json:"payloadBytes"`
}

func newBundleCommand(g *Globals) *cobra.Command {
	var out, binary string
	cmd := &cobra.Command{
		Use:   "bundle --config F --out DIR",
		Short: "Write DIR/add2tkectl-<clusterID>-<nodePoolID>: this binary carrying a validated configuration",
		Long: `bundle validates the configuration of --config (with any --set on top; the
environment and a payload the binary already carries are not used) and writes
DIR/add2tkectl-<clusterID>-<nodePoolID>, mode 0700: the executable followed by
the configuration and a trailer (magic, length, sha256). Bundling a binary that
already carries a configuration replaces it. The result prints its path.

When the bundled binary starts, it reads the configuration back as the lowest
source above the defaults; a damaged payload, or a name add2tkectl-<cls>-<np>
that disagrees with the IDs inside, stops it with exit code 2.`,
		Example: `  add2tkectl bundle --config pool.yaml --out dist/
  add2tkectl bundle --config pool.yaml --out dist/ --binary bin/add2tkectl-arm64`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runBundle(g, out, binary) },
	}
	cmd.Flags().StringVar(&out, "out", "", "directory to write the bundled binary into (created if missing)")
	cmd.Flags().StringVar(&binary, "binary", "", "executable to bundle (default: this one)")
	return cmd
}

func runBundle(g *Globals, out, binary string) error {
	if g.ConfigFile == "" {
		return usageErrorf("bundle needs --config FILE: the node pool's configuration to carry")
	}
	if out == "" {
		return usageErrorf("bundle needs --out DIR: where to write add2tkectl-<clusterID>-<nodePoolID>")
	}
	if binary == "" {
		binary = g.Executable
	}
	l, err := config.Load(config.Options{Sets: g.Set, File: g.ConfigFile})
	if err != nil {
		return err
	}
	if err := l.Config.Validate(); err != nil {
		return err
	}
	// The document as written, not the defaults: a later --set of the
	// runtime kind must still get that kind's default data directory.
	payload, err := json.Marshal(l.Document)
	if err != nil {
		return err
	}
	res, err := writeBundle(binary, out, l.Config.Cluster.ID, l.Config.NodePool.ID, payload)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stderr, "bundled %s/%s into %s (%d bytes)\n", res.ClusterID, res.NodePoolID, res.Path, res.Bytes)
	if g.Output != "text" {
		return writeResult(g, res)
	}
	_, err = fmt.Fprintln(g.Stdout, res.Path)
	return err
}

// writeBundle writes out/add2tkectl-<cls>-<np> atomically, mode 0700.
func writeBundle(binary, out, cls, np string, payload []byte) (*BundleResult, error) {
	f, err := os.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("open the executable to bundle: %w (pass --binary PATH)", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || !bytes.Equal(magic[:], []byte("\x7fELF")) {
		return nil, usageErrorf("%s is not an executable (no ELF header): pass the add2tkectl binary with --binary", binary)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("create --out directory: %w", err)
	}
	dst := filepath.Join(out, config.BundleName(cls, np))
	t, err := renameio.TempFile(out, dst)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", dst, err)
	}
	defer t.Cleanup()
	n, err := config.Bundle(t, f, st.Size(), payload)
	if err != nil {
		return nil, &config.LoadError{Source: "the executable " + binary, Err: err}
	}
	if err := t.Chmod(0o700); err != nil {
		return nil, err
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return nil, fmt.Errorf("write %s: %w", dst, err)
	}
	return &BundleResult{Path: dst, ClusterID: cls, NodePoolID: np, Bytes: n, PayloadBytes: len(payload)}, nil
}
