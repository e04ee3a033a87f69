package debug

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
)

// ArchiveMode is the archive's mode: it describes the node in detail.
const ArchiveMode = 0o600

// DefaultName is the archive's name when --out names none:
// add2tkectl-debug-<hostname>-<UTC time>.tar.gz.
func DefaultName(host string, t time.Time) string {
	return fmt.Sprintf("add2tkectl-debug-%s-%s.tar.gz", safeName(host), t.UTC().Format("20060102T150405Z"))
}

// Prefix is the directory every entry of the archive is under: its name
// without .tar.gz.
func (r *Result) Prefix() string {
	return strings.TrimSuffix(DefaultName(r.Index.Host, r.Index.StartedAt), ".tar.gz")
}

// Manifest is MANIFEST.txt: the index as a table a person reads.
func (r *Result) Manifest() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "add2tkectl debug of %s (root %s), %s, took %dms", r.Index.Host, r.Index.Root, r.Index.StartedAt.Format(time.RFC3339), r.Index.TookMS)
	if r.Index.TimedOut {
		b.WriteString(", cut by its timeout")
	}
	b.WriteString("\nEvery entry is redacted (tokens, presigned links, private keys, kubeconfig keys and tokens, passwords).\n\n")
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STATUS\tSIZE\tEXIT\tTOOK\tENTRY\tSOURCE\tNOTE")
	for _, e := range r.Index.Entries {
		exit := "-"
		if e.ExitCode != nil {
			exit = fmt.Sprint(*e.ExitCode)
		}
		name := e.Name
		if name == "" {
			name = "-"
		}
		note := e.Error
		if e.Truncated {
			note = strings.TrimSpace(fmt.Sprintf("truncated from %d bytes. %s", e.OriginalSize, note))
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%dms\t%s\t%s\t%s\n", e.Status, e.Size, exit, e.TookMS, name, e.Source, oneLine(note))
	}
	_ = w.Flush()
	return b.Bytes()
}

// Write writes the archive, gzipped tar, to w: MANIFEST.txt and index.json
// first, then every entry, each 0600 under Prefix().
func (r *Result) Write(w io.Writer) error {
	idx, err := json.MarshalIndent(r.Index, "", "  ")
	if err != nil {
		return err
	}
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	prefix := r.Prefix()
	put := func(name string, data []byte) error {
		h := &tar.Header{Name: path.Join(prefix, name), Mode: ArchiveMode, Size: int64(len(data)), ModTime: r.Index.StartedAt, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write the archive's %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write the archive's %s: %w", name, err)
		}
		return nil
	}
	if err := put(ManifestName, NewRedactor(nil).Redact(r.Manifest())); err != nil {
		return err
	}
	if err := put(IndexName, append(NewRedactor(nil).Redact(idx), '\n')); err != nil {
		return err
	}
	for _, it := range r.items {
		if it.Name == "" {
			continue
		}
		if err := put(it.Name, it.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("write the archive: %w", err)
	}
	return nil
}

// WriteFile writes the archive to file atomically (a temp file beside it,
// then a rename), mode 0600 from its first byte.
func (r *Result) WriteFile(file string) error {
	p, err := atomicfile.New(file, ArchiveMode)
	if err != nil {
		return fmt.Errorf("create the archive %s: %w (choose another place with --out)", file, err)
	}
	defer p.Cleanup()
	if err := r.Write(p); err != nil {
		return err
	}
	return p.Commit()
}

// Entries are the archive's entries (name → redacted content), for tests.
func (r *Result) Entries() map[string][]byte {
	out := map[string][]byte{}
	for _, it := range r.items {
		if it.Name != "" {
			out[it.Name] = it.data
		}
	}
	return out
}

// hostname is the host's name: the root's /etc/hostname, or the running
// host's.
func hostname(d Deps) string {
	if b, err := os.ReadFile(d.Root.Path("/etc/hostname")); err == nil {
		if h := strings.TrimSpace(string(b)); h != "" {
			return h
		}
	}
	if d.Live {
		if h, err := os.Hostname(); err == nil && h != "" {
			return h
		}
	}
	return "unknown"
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// safeName keeps a host name fit for a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		}
		return '_'
	}, s)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
