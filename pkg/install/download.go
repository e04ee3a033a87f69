package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// journal key: the manifest URL (query redacted) the cached manifest came from.
const keyManifestSource = "download.manifest"

// artifacts is the download phase's product, shared with the later phases:
// the verified local file of each artifact this host needs, by name.
type artifacts struct {
	d     *Deps
	paths map[string]string
}

// source names where the manifest comes from, without secrets.
func (a *artifacts) source() string {
	if a.d.ArtifactsDir != "" {
		return "dir:" + a.d.ArtifactsDir
	}
	return redact.URL(a.d.Config.Artifacts.ManifestURL)
}

func (a *artifacts) fetcher() *artifact.Fetcher {
	return &artifact.Fetcher{
		CacheDir: a.d.Root.Path(paths.CacheDir),
		Client:   artifact.NewClient(a.d.proxyFunc()),
		Progress: a.d.Progress,
		Log:      a.d.Log.WithField("phase", "download"),
		Verified: func(l artifact.Local) { a.d.Unpacks.Start(l.Path) },
	}
}

// proxyFunc picks the proxy of install's own requests (the manifest, the
// artifacts, preflight's reach of COS): the site's, else the environment's.
// They go to the artifact store only, never to the API server, so their
// NO_PROXY is loopback, the cluster's domains and the operator's entries:
// an artifact store at the API server's address (a test bed, an IDC's one
// gateway) still goes through the proxy, as its port is another.
func (d *Deps) proxyFunc() func(*http.Request) (*url.URL, error) {
	return site.ProxyOf(d.Site).ProxyFunc(site.Node{})
}

// fromCache resolves every artifact from the cached manifest and the cache,
// without network. ok is false when anything is missing.
func (a *artifacts) fromCache() (local map[string]string, ok bool, err error) {
	env, err := os.ReadFile(a.d.Root.Path(paths.ManifestPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, err
	}
	// Accepted when it was fresh: its expiry guards the network, not re-runs.
	m, err := artifact.VerifyCachedManifest(env, a.d.Config.Artifacts.PublicKey)
	if err != nil {
		// A key rotation or a damaged file: download again.
		return nil, false, nil
	}
	sel, err := a.needed(m)
	if err != nil {
		return nil, false, nil
	}
	f := a.fetcher()
	local = map[string]string{}
	for _, art := range sel {
		p := f.CachePath(art)
		st, err := os.Stat(p)
		if err != nil || st.Size() != art.Size {
			return nil, false, nil
		}
		local[art.Name] = p
	}
	return local, true, nil
}

// Satisfied: the cached manifest came from the configured source and every
// artifact it lists for this host is in the cache (verified when written).
func (a *artifacts) Satisfied(ctx context.Context) (bool, error) {
	j, err := phase.LoadJournal(a.d.Root.Dir)
	if err != nil {
		return false, err
	}
	if j.Values()[keyManifestSource] != a.source() {
		return false, nil
	}
	local, ok, err := a.fromCache()
	if ok {
		a.paths = local
	}
	return ok, err
}

// Run fetches and verifies the manifest and every artifact for this host.
// An expired link is tolerated only when everything is already cached.
func (a *artifacts) Run(ctx context.Context, rec phase.Recorder) error {
	f := a.fetcher()
	defer a.d.Progress.Wait()
	var (
		env []byte
		m   *artifact.Manifest
		err error
	)
	url := a.d.Config.Artifacts.ManifestURL
	if a.d.ArtifactsDir != "" {
		m, env, err = artifact.LoadOffline(a.d.ArtifactsDir, a.d.Config.Artifacts.PublicKey)
		url = ""
	} else {
		env, err = f.FetchManifest(ctx, url)
		if err == nil {
			m, err = artifact.VerifyManifest(env, url, a.d.Config.Artifacts.PublicKey)
		}
	}
	if err != nil {
		if artifact.IsExpired(err) {
			if local, ok, _ := a.fromCache(); ok {
				a.d.Log.WithField("phase", "download").Warn("the download link has expired, but every artifact is already cached: using the cache")
				a.paths = local
				return nil
			}
		}
		return err
	}
	sel, err := a.needed(m)
	if err != nil {
		return err
	}
	only := *m
	only.Artifacts = sel
	// Recorded before the first byte lands: a download that fails half-way
	// leaves its cache to uninstall, not to the host.
	if _, err := os.Lstat(a.d.Root.Path(paths.CacheDir)); errors.Is(err, fs.ErrNotExist) {
		if err := rec.Dir(paths.CacheDir); err != nil {
			return err
		}
	}
	locals, err := f.Fetch(ctx, url, &only, "linux", runtime.GOARCH, a.d.ArtifactsDir)
	if err != nil {
		return err
	}
	local := map[string]string{}
	for name, l := range locals {
		local[name] = l.Path
	}
	if _, err := a.d.Root.WriteFile(rec, paths.ManifestPath, env, 0o600); err != nil {
		return err
	}
	if err := rec.Set(keyManifestSource, a.source()); err != nil {
		return err
	}
	a.paths = local
	return nil
}

// Pins are the versions the configuration binds a manifest to: the kubelet
// (and kubectl) at the cluster's Kubernetes version, the configured runtime
// at the pool's runtime version. Install and `artifacts pull` refuse a
// manifest that disagrees, however validly it is signed.
func Pins(c *config.NodePoolJoin) artifact.Pins {
	k8s := artifact.Pin{Version: c.Cluster.KubernetesVersion, Setting: "cluster.kubernetesVersion"}
	return artifact.Pins{
		"kubelet":               k8s,
		"kubectl":               k8s,
		c.NodePool.Runtime.Kind: {Version: c.NodePool.Runtime.Version, Setting: "nodePool.runtime.version"},
	}
}

// needed selects the artifacts this host uses: the kubelet, the CNI plugins,
// crictl and images, and the configured runtime's own (containerd and runc,
// or docker and, from Kubernetes 1.24, cri-dockerd). A manifest that lacks
// one of them, or lists the kubelet or the runtime at another version than
// the configuration's, is an artifact failure (exit 4) naming it. Every
// source goes through here: the network, --artifacts-dir and the cache.
func (a *artifacts) needed(m *artifact.Manifest) ([]artifact.Artifact, error) {
	if err := m.CheckPins(Pins(a.d.Config)); err != nil {
		return nil, err
	}
	all, err := m.Select("linux", runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	required := []string{"kubelet", "cni-plugins"}
	runtimeOnly := map[string]bool{"containerd": true, "runc": true, "docker": true, "cri-dockerd": true}
	want := map[string]bool{}
	if a.d.Config.NodePool.Runtime.Kind == config.RuntimeDocker {
		required = append(required, "docker")
		if a.d.Config.NeedsCRIDockerd() {
			required = append(required, "cri-dockerd")
		}
	} else {
		required = append(required, "containerd", "runc")
	}
	for _, n := range required {
		want[n] = true
	}
	var out []artifact.Artifact
	have := map[string]bool{}
	for _, art := range all {
		if runtimeOnly[art.Name] && !want[art.Name] {
			continue // the other runtime's
		}
		out = append(out, art)
		have[art.Name] = true
	}
	var missing []string
	for _, n := range required {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, &artifact.Error{Op: "manifest", Err: fmt.Errorf("the manifest has no %s for linux/%s, which a %s node on Kubernetes %s needs; regenerate the script in the console for this pool",
			strings.Join(missing, ", "), runtime.GOARCH, a.d.Config.NodePool.Runtime.Kind, a.d.Config.Cluster.KubernetesVersion)}
	}
	return out, nil
}

// errNotDownloaded: the artifacts are in neither this run nor the cache.
var errNotDownloaded = errors.New("the artifacts are not downloaded yet: run install without skipping the download phase")

// get returns the artifacts for a later phase; the download phase must
// have run or been satisfied in this run (it is never skipped silently).
func (a *artifacts) get(ctx context.Context) (map[string]string, error) {
	if a.paths != nil {
		return a.paths, nil
	}
	// The download phase was skipped (--skip-phases download): use the
	// cache, or say what to do.
	local, ok, err := a.fromCache()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotDownloaded
	}
	a.paths = local
	return local, nil
}
