package install

import (
	"errors"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/config"
)

func manifestOf(names ...string) *artifact.Manifest {
	m := &artifact.Manifest{SchemaVersion: 1}
	for _, n := range names {
		m.Artifacts = append(m.Artifacts, artifact.Artifact{Name: n, OS: "linux", Arch: runtime.GOARCH})
	}
	// Another architecture's kubelet is never chosen.
	m.Artifacts = append(m.Artifacts, artifact.Artifact{Name: "kubelet", OS: "linux", Arch: "s390x"})
	return m
}

func TestNeededTakesTheConfiguredRuntimesArtifactsOnly(t *testing.T) {
	full := manifestOf("kubelet", "cni-plugins", "containerd", "runc", "docker", "cri-dockerd", "crictl", "image/pause")
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
		sel, err := a.needed(full)
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
	_, err := a.needed(manifestOf("kubelet", "cni-plugins", "docker", "image/pause"))
	var ae *artifact.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "no cri-dockerd") {
		t.Fatalf("error %v, want an artifact.Error naming cri-dockerd", err)
	}
}
