package status

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// versionDrift compares the configured runtime and Kubernetes versions with
// the installed ones: the runtime as it answers, the kubelet binary, and the
// kubelet the Node reports (running; it lags the binary until a restart).
func versionDrift(c *config.NodePoolJoin, kind string, rt Runtime, agent, kubeletBinary, kubeletRunning string) []VersionDrift {
	var out []VersionDrift
	want := c.NodePool.Runtime
	switch {
	case kind != want.Kind:
		out = append(out, VersionDrift{Component: "runtime", Configured: want.Kind, Installed: kind})
	case rt.Version != "" && !sameVersion(rt.Version, want.Version):
		out = append(out, VersionDrift{Component: kind, Configured: want.Version, Installed: rt.Version, Where: "running"})
	}
	k8s := c.Cluster.KubernetesVersion
	switch {
	case kubeletBinary != "" && !sameVersion(kubeletBinary, k8s):
		out = append(out, VersionDrift{Component: agent, Configured: k8s, Installed: kubeletBinary, Where: "binary"})
	case kubeletRunning != "" && !sameVersion(kubeletRunning, k8s):
		out = append(out, VersionDrift{Component: agent, Configured: k8s, Installed: kubeletRunning, Where: "running"})
	}
	return out
}

// sameVersion reports whether an installed version is the configured one:
// equal but for a leading "v", or carrying a distribution suffix after it
// ("1.6.20~ds1" is 1.6.20; "1.6.201" is not).
func sameVersion(installed, configured string) bool {
	i, c := strings.TrimPrefix(installed, "v"), strings.TrimPrefix(configured, "v")
	if c == "" || i == c {
		return true
	}
	if !strings.HasPrefix(i, c) {
		return false
	}
	next := i[len(c)]
	return next != '.' && (next < '0' || next > '9')
}

// labelDrift is how the Node's labels differ from the pool's: configured
// labels missing or different, and labels the pool applied once (owned,
// from the journal) and no longer configures. Labels set by others are no
// drift.
func labelDrift(node, desired map[string]string, owned []string) []LabelDrift {
	plan := join.PlanLabels(node, desired, owned)
	var out []LabelDrift
	for k, v := range plan.Set {
		d := LabelDrift{Key: k, Configured: v, Change: ChangeMissing}
		if cur, ok := node[k]; ok {
			d.Node, d.Change = cur, ChangeDifferent
		}
		out = append(out, d)
	}
	for _, k := range plan.Remove {
		out = append(out, LabelDrift{Key: k, Node: node[k], Change: ChangeUnwanted})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}

// taintDrift is how the Node's taints differ from the pool's, counting only
// keys the pool owns (configured, or registered at first join).
func taintDrift(node, desired []config.Taint, registered []string) []TaintDrift {
	ts := make([]corev1.Taint, 0, len(node))
	for _, t := range node {
		ts = append(ts, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
	}
	d := join.DiffTaints(ts, desired, registered)
	var out []TaintDrift
	for _, t := range d.Missing {
		out = append(out, TaintDrift{Taint: t, Change: ChangeMissing})
	}
	for _, t := range d.Unexpected {
		out = append(out, TaintDrift{Taint: t, Change: ChangeUnexpected})
	}
	return out
}

func taintString(t config.Taint) string {
	if t.Value == "" {
		return t.Key + ":" + t.Effect
	}
	return t.Key + "=" + t.Value + ":" + t.Effect
}

// factList reads a JSON array of strings the join phase stored.
func factList(values map[string]string, key string) []string {
	var out []string
	if v := values[key]; v != "" {
		_ = json.Unmarshal([]byte(v), &out)
	}
	return out
}

// volatile reports whether a journaled file is expected to go away or
// change after install: the user script's success markers of earlier
// scripts are removed when a new script succeeds.
func volatile(p string) bool {
	return path.Dir(p) == userscript.Dir && strings.HasPrefix(path.Base(p), ".done-")
}

// hashWorkers bounds the files hashed at once.
const hashWorkers = 4

// fileDrift compares every file the journal lists with what install wrote.
// A file a component stamp describes (the large binaries) is trusted
// without reading it when its size and mtime are what the stamp recorded,
// as git's index does; every other file is hashed.
func fileDrift(ctx context.Context, root host.Root, files []phase.FileRecord) ([]FileDrift, error) {
	stamps := loadStampSums(root)
	results := make([]*FileDrift, len(files))
	errs := make([]error, len(files))
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < hashWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One buffer per worker: the journal lists dozens of small
			// files, and a fresh 1 MiB buffer for each was most of what
			// status allocated.
			buf := make([]byte, 64<<10)
			for i := range work {
				results[i], errs[i] = checkFile(ctx, root, files[i], stamps, buf)
			}
		}()
	}
	for i, f := range files {
		if volatile(f.Path) {
			continue
		}
		work <- i
	}
	close(work)
	wg.Wait()
	var out []FileDrift
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, errors.Join(errs...)
}

func checkFile(ctx context.Context, root host.Root, f phase.FileRecord, stamps map[string]binary.Sum, buf []byte) (*FileDrift, error) {
	full := root.Path(f.Path)
	if s, ok := stamps[f.Path]; ok && s.SHA256 == f.SHA256 {
		if st, err := os.Stat(full); err == nil && st.Size() == s.Size && st.ModTime().UnixNano() == s.MTimeNs {
			return nil, nil
		}
	}
	sum, err := hashFile(ctx, full, buf)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &FileDrift{Path: f.Path, Change: ChangeMissing, SHA256: f.SHA256}, nil
	case err != nil:
		return nil, err
	case sum != f.SHA256:
		return &FileDrift{Path: f.Path, Change: ChangeModified, SHA256: f.SHA256, Current: sum}, nil
	}
	return nil, nil
}

// hashFile returns the hex sha256 of a file, read through buf, giving up
// when ctx ends.
func hashFile(ctx context.Context, p string, buf []byte) (string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	for {
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("hash %s: %w", p, err)
		}
		n, err := fh.Read(buf)
		h.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// loadStampSums maps host paths to the sums the component stamps recorded.
// A missing or damaged stamp only means hashing more.
func loadStampSums(root host.Root) map[string]binary.Sum {
	out := map[string]binary.Sum{}
	names, _ := filepath.Glob(filepath.Join(root.Path(paths.StampDir), "*.json"))
	for _, n := range names {
		s, err := binary.LoadStamp(root, strings.TrimSuffix(filepath.Base(n), ".json"))
		if err != nil {
			continue
		}
		for dst, sum := range s.Files {
			out[dst] = sum
		}
	}
	return out
}
