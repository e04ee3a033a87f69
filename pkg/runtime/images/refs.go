// Package images loads the offline image tarballs of the manifest
// (artifacts named image/<name>: OCI layouts or `docker save` archives) into
// the node's runtime, so the node needs no registry for them.
package images

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// ArtifactPrefix starts the name of every image artifact.
const ArtifactPrefix = "image/"

// PauseArtifact is the image artifact whose image is the pod sandbox.
const PauseArtifact = ArtifactPrefix + "pause"

// DefaultSandboxImage is the sandbox image when the manifest ships no
// image/pause artifact; the node must then be able to pull it.
const DefaultSandboxImage = "registry.k8s.io/pause:3.10"

// Names returns the image artifact names in the artifacts map, sorted.
func Names(artifacts map[string]string) []string {
	var out []string
	for name := range artifacts {
		if strings.HasPrefix(name, ArtifactPrefix) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// SandboxImage is the reference of the image in the image/pause artifact,
// or DefaultSandboxImage without one. The runtime's sandbox image and the
// imported image must agree, so it is read from the tarball itself.
func SandboxImage(artifacts map[string]string) (string, error) {
	p, ok := artifacts[PauseArtifact]
	if !ok {
		return DefaultSandboxImage, nil
	}
	refs, err := References(p)
	if err != nil {
		return "", fmt.Errorf("artifact %s: %w", PauseArtifact, err)
	}
	if len(refs) == 0 {
		return "", fmt.Errorf("artifact %s names no image (no io.containerd.image.name annotation or RepoTags): rebuild it with a tag", PauseArtifact)
	}
	return refs[0], nil
}

// References lists the image references a tarball carries: from an OCI
// layout's index.json (io.containerd.image.name, or a full
// org.opencontainers.image.ref.name) or a docker archive's manifest.json
// (RepoTags). The tarball may be gzip-compressed.
func References(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		r = gz
	}
	tr := tar.NewReader(r)
	var index, manifest []byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read image tarball %s: %w", path, err)
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "index.json":
			index, err = io.ReadAll(io.LimitReader(tr, 1<<20))
		case "manifest.json":
			manifest, err = io.ReadAll(io.LimitReader(tr, 1<<20))
		}
		if err != nil {
			return nil, err
		}
	}
	return parseReferences(index, manifest)
}

func parseReferences(index, manifest []byte) ([]string, error) {
	var refs []string
	seen := map[string]bool{}
	add := func(r string) {
		if r != "" && !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	if index != nil {
		var idx struct {
			Manifests []struct {
				Annotations map[string]string `json:"annotations"`
			} `json:"manifests"`
		}
		if err := json.Unmarshal(index, &idx); err != nil {
			return nil, fmt.Errorf("index.json: %w", err)
		}
		for _, m := range idx.Manifests {
			if n := m.Annotations["io.containerd.image.name"]; n != "" {
				add(n)
			} else if n := m.Annotations["org.opencontainers.image.ref.name"]; strings.ContainsAny(n, "/:") {
				add(n)
			}
		}
	}
	if len(refs) == 0 && manifest != nil {
		var ms []struct {
			RepoTags []string `json:"RepoTags"`
		}
		if err := json.Unmarshal(manifest, &ms); err != nil {
			return nil, fmt.Errorf("manifest.json: %w", err)
		}
		for _, m := range ms {
			for _, t := range m.RepoTags {
				add(t)
			}
		}
	}
	if index == nil && manifest == nil {
		return nil, errors.New("neither index.json (OCI layout) nor manifest.json (docker save) in the tarball")
	}
	return refs, nil
}
