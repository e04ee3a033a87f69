package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// manifestOf lists names for this host, the kubelet at Kubernetes k8s.
func manifestOf(k8s string, names ...string) *artifact.Manifest {
	m := &artifact.Manifest{SchemaVersion: 1}
	for _, n := range names {
		v := "1.0.0"
		if n == "kubelet" {
			v = "v" + k8s
		}
		m.Artifacts = append(m.Artifacts, artifact.Artifact{Name: n, Version: v, OS: "linux", Arch: runtime.GOARCH})
	}
	// Another architecture's kubelet is never chosen.
	m.Artifacts = append(m.Artifacts, artifact.Artifact{Name: "kubelet", Version: "v" + k8s, OS: "linux", Arch: "s390x"})
	return m
}

func TestNeededTakesTheConfiguredRuntimesArtifactsOnly(t *testing.T) {
	full := func(k8s string) *artifact.Manifest {
		return manifestOf(k8s, "kubelet", "cni-plugins", "containerd", "runc", "docker", "cri-dockerd", "crictl", "image/pause")
	}
	for _, tc := range []struct {
		kind, k8s string
		want      string
	}{
		{config.RuntimeContainerd, "1.35.4", "cni-plugins,containerd,crictl,image/pause,kubelet,runc"},
		{config.RuntimeDocker, "1.35.4", "cni-plugins,cri-dockerd,crictl,docker,image/pause,kubelet"},
		{config.RuntimeDocker, "1.23.17", "cni-plugins,crictl,docker,image/pause,kubelet"},
	} {
		c := &config.NodePoolJoin{}
		c.Cluster.KubernetesVersion = tc.k8s
		c.NodePool.Runtime.Kind = tc.kind
		a := &artifacts{d: &Deps{Config: c, Log: logrus.New()}}
		sel, err := a.needed(full(tc.k8s))
		if err != nil {
			t.Fatalf("%s on %s: %v", tc.kind, tc.k8s, err)
		}
		var names []string
		for _, s := range sel {
			names = append(names, s.Name)
			if s.Arch != runtime.GOARCH {
				t.Errorf("chose %s for %s", s.Name, s.Arch)
			}
		}
		sort.Strings(names)
		if got := strings.Join(names, ","); got != tc.want {
			t.Errorf("%s on Kubernetes %s: needed %s, want %s", tc.kind, tc.k8s, got, tc.want)
		}
	}
}

// Docker on Kubernetes >= 1.24 without cri-dockerd in the manifest is an
// artifact failure (exit 4) that names what is missing.
func TestNeededRefusesAManifestWithoutCRIDockerd(t *testing.T) {
	c := &config.NodePoolJoin{}
	c.Cluster.KubernetesVersion = "1.35.4"
	c.NodePool.Runtime.Kind = config.RuntimeDocker
	a := &artifacts{d: &Deps{Config: c, Log: logrus.New()}}
	_, err := a.needed(manifestOf("1.35.4", "kubelet", "cni-plugins", "docker", "image/pause"))
	var ae *artifact.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "no cri-dockerd") {
		t.Fatalf("error %v, want an artifact.Error naming cri-dockerd", err)
	}
}

// boundServer serves a signed manifest listing kubelet and containerd at
// the given versions (and the artifacts themselves), counting artifact
// requests, and writes the same set as an offline directory.
func boundServer(t *testing.T, kubeletV, containerdV string) (cfg *config.NodePoolJoin, offline string, artifactRequests *atomic.Int64) {
	t.Helper()
	privPEM, pubPEM, err := artifact.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"kubelet": []byte("kubelet " + kubeletV), "containerd": []byte("containerd " + containerdV),
		"runc": []byte("runc"), "cni-plugins": []byte("cni")}
	versions := map[string]string{"kubelet": kubeletV, "containerd": containerdV, "runc": "1.1.12", "cni-plugins": "1.5.0"}
	m := artifact.Manifest{SchemaVersion: 1}
	offline = t.TempDir()
	for _, n := range []string{"kubelet", "containerd", "runc", "cni-plugins"} {
		sum := sha256.Sum256(blobs[n])
		a := artifact.Artifact{Name: n, Version: versions[n], OS: "linux", Arch: runtime.GOARCH, Kind: artifact.KindBinary,
			URLs: []string{n}, Size: int64(len(blobs[n])), SHA256: hex.EncodeToString(sum[:])}
		m.Artifacts = append(m.Artifacts, a)
		if err := os.WriteFile(filepath.Join(offline, artifact.OfflineName(a)), blobs[n], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	payload, _ := json.Marshal(m)
	key, _ := artifact.ParsePrivateKey(privPEM)
	env, err := artifact.Sign(payload, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(offline, artifact.OfflineManifest), env, 0o600); err != nil {
		t.Fatal(err)
	}
	artifactRequests = &atomic.Int64{}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "manifest.json" {
			w.Write(env)
			return
		}
		artifactRequests.Add(1)
		w.Write(blobs[name])
	}))
	t.Cleanup(s.Close)
	cfg = &config.NodePoolJoin{}
	cfg.Cluster.KubernetesVersion = "1.35.4"
	cfg.NodePool.Runtime.Kind = config.RuntimeContainerd
	cfg.NodePool.Runtime.Version = "1.7.22"
	cfg.Artifacts.ManifestURL = s.URL + "/manifest.json"
	cfg.Artifacts.PublicKey = string(pubPEM)
	return cfg, offline, artifactRequests
}

// The manifest is bound to the configuration: a validly signed one for
// kubelet v1.18.0 and containerd 1.2.0 is refused for a pool that asks
// 1.35.4 / 1.7.22, over the network and from --artifacts-dir alike, before
// anything is downloaded; the pool's own versions install.
func TestDownloadRefusesAManifestForOtherVersionsThanTheConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name, kubelet, containerd string
		offline                   bool
		wantErr                   []string
	}{
		{"network, old versions", "v1.18.0", "1.2.0", false, []string{"kubelet is v1.18.0", "cluster.kubernetesVersion is 1.35.4", "containerd is 1.2.0", "nodePool.runtime.version is 1.7.22"}},
		{"offline, old versions", "v1.18.0", "1.2.0", true, []string{"kubelet is v1.18.0", "containerd is 1.2.0"}},
		{"network, old containerd", "v1.35.4", "1.2.0", false, []string{"containerd is 1.2.0"}},
		{"network, the pool's versions", "v1.35.4", "1.7.22", false, nil},
		{"offline, the pool's versions", "1.35.4", "v1.7.22", true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, offline, requests := boundServer(t, tc.kubelet, tc.containerd)
			d := &Deps{Config: cfg, Root: host.Root{Dir: t.TempDir()}, Log: logrus.New(), Progress: artifact.NewProgress(io.Discard, false)}
			if tc.offline {
				d.ArtifactsDir = offline
			}
			a := &artifacts{d: d}
			err := a.Run(context.Background(), testrec.New())
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("the pool's own versions: %v", err)
				}
				if len(a.paths) != 4 {
					t.Errorf("paths %v, want kubelet, containerd, runc, cni-plugins", a.paths)
				}
				return
			}
			var ae *artifact.Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an *artifact.Error (exit 4)", err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d artifact requests for a refused manifest", n)
			}
			if ents, _ := os.ReadDir(d.Root.Path(paths.CacheDir)); len(ents) != 0 {
				t.Errorf("the cache holds %v after a refused manifest", ents)
			}
		})
	}
}

// A cached manifest accepted for one runtime version does not satisfy a
// configuration that now asks another.
func TestDownloadCacheIsNotSatisfiedForAnotherRuntimeVersion(t *testing.T) {
	cfg, _, _ := boundServer(t, "v1.35.4", "1.7.22")
	d := &Deps{Config: cfg, Root: host.Root{Dir: t.TempDir()}, Log: logrus.New(), Progress: artifact.NewProgress(io.Discard, false)}
	rec := testrec.New()
	if err := (&artifacts{d: d}).Run(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := (&artifacts{d: d}).fromCache(); !ok || err != nil {
		t.Fatalf("fromCache after a download: %v %v", ok, err)
	}
	cfg.NodePool.Runtime.Version = "2.4.2"
	if _, ok, _ := (&artifacts{d: d}).fromCache(); ok {
		t.Error("the cache of containerd 1.7.22 satisfies a pool that asks 2.4.2")
	}
}

// A download that fails half-way (an artifact cut short) leaves its cache
// in the journal, so that uninstall removes it: the cache directory is
// recorded before the first artifact lands.
func TestDownloadRecordsTheCacheBeforeAFailedArtifact(t *testing.T) {
	cfg, _, _ := boundServer(t, "v1.35.4", "1.7.22")
	origin := cfg.Artifacts.ManifestURL
	cut := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/manifest.json" {
			resp, err := http.Get(origin)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			io.Copy(w, resp.Body)
			return
		}
		w.Write([]byte("cut")) // wrong size and checksum for every artifact
	}))
	t.Cleanup(cut.Close)
	cfg.Artifacts.ManifestURL = cut.URL + "/manifest.json"
	d := &Deps{Config: cfg, Root: host.Root{Dir: t.TempDir()}, Log: logrus.New(), Progress: artifact.NewProgress(io.Discard, false)}
	rec := testrec.New()
	if err := (&artifacts{d: d}).Run(context.Background(), rec); err == nil {
		t.Fatal("a download of cut artifacts succeeded")
	}
	if got := strings.Join(rec.Dirs, ","); got != paths.CacheDir {
		t.Errorf("journal dirs after a failed download: %q, want %s", got, paths.CacheDir)
	}
}
