package images

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// Component is the name in stamps, logs and the journal.
const Component = "images"

// Namespace is containerd's namespace of the CRI plugin.
const Namespace = "k8s.io"

// Store is a runtime's image store: what Install needs of containerd or
// docker.
type Store interface {
	// Load imports the image tarball and returns ref -> image ID (the
	// manifest digest in containerd, the image ID in docker).
	Load(ctx context.Context, tarball string) (map[string]string, error)
	// ID returns the image ID of ref, "" if the runtime lacks it.
	ID(ctx context.Context, ref string) (string, error)
	Close() error
}

// Deps is what importing images needs from its caller.
type Deps struct {
	component.Deps
	// Store overrides the runtime's image store (nil: containerd or docker
	// on their sockets under Root, by nodePool.runtime.kind).
	Store func(ctx context.Context) (Store, error)
}

func (d Deps) store(ctx context.Context) (Store, error) {
	if d.Store != nil {
		return d.Store(ctx)
	}
	if d.Config.NodePool.Runtime.Kind == config.RuntimeDocker {
		return NewDocker(d.Root.Path(paths.DockerSocket)), nil
	}
	return NewContainerd(d.Root.Path(paths.ContainerdSocket))
}

// factKey is the stamp's record of what artifact name gave: "ref=id,...".
func encodeIDs(ids map[string]string) string {
	refs := make([]string, 0, len(ids))
	for r := range ids {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r + "=" + ids[r]
	}
	return strings.Join(parts, ",")
}

func decodeIDs(s string) map[string]string {
	out := map[string]string{}
	for _, p := range strings.Split(s, ",") {
		if r, id, ok := strings.Cut(p, "="); ok {
			out[r] = id
		}
	}
	return out
}

// present reports whether the runtime still has every image the stamp
// says name gave, with the same ID.
func present(ctx context.Context, s Store, fact string) (bool, error) {
	ids := decodeIDs(fact)
	if len(ids) == 0 {
		return false, nil
	}
	for ref, want := range ids {
		got, err := s.ID(ctx, ref)
		if err != nil || got != want {
			return false, err
		}
	}
	return true, nil
}

// Satisfied reports whether every image artifact was imported from the
// same file and the runtime still has its images with the same IDs.
func Satisfied(ctx context.Context, d Deps) (bool, error) {
	names := Names(d.Artifacts)
	if len(names) == 0 {
		return true, nil
	}
	st, err := binary.LoadStamp(d.Root, Component)
	if err != nil {
		return false, err
	}
	s, err := d.store(ctx)
	if err != nil {
		return false, err
	}
	defer s.Close()
	for _, name := range names {
		if ok, err := upToDate(ctx, s, st, name, d.Artifacts[name]); err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func upToDate(ctx context.Context, s Store, st binary.Stamp, name, path string) (bool, error) {
	src, ok := st.Sources[name]
	if !ok {
		return false, nil
	}
	if ok, err := src.Matches(path); err != nil || !ok {
		return false, err
	}
	return present(ctx, s, st.Facts[name])
}

// Install imports every image artifact the runtime does not already have
// from the same tarball, and records the image IDs.
func Install(ctx context.Context, d Deps) (changed bool, err error) {
	names := Names(d.Artifacts)
	if len(names) == 0 {
		return false, nil
	}
	log := d.Log.WithField("component", Component)
	st, err := binary.LoadStamp(d.Root, Component)
	if err != nil {
		return false, err
	}
	s, err := d.store(ctx)
	if err != nil {
		return false, err
	}
	defer s.Close()
	for _, name := range names {
		path := d.Artifacts[name]
		if ok, err := upToDate(ctx, s, st, name, path); err != nil {
			return changed, err
		} else if ok {
			continue
		}
		sum, err := binary.SumFile(path)
		if err != nil {
			return changed, fmt.Errorf("read artifact %s: %w", name, err)
		}
		ids, err := s.Load(ctx, path)
		if err != nil {
			return changed, fmt.Errorf("import artifact %s: %w", name, err)
		}
		if len(ids) == 0 {
			return changed, fmt.Errorf("import artifact %s: the tarball named no image; rebuild it with a tag", name)
		}
		log.WithFields(logrus.Fields{"artifact": name, "images": encodeIDs(ids)}).Info("imported")
		st.Sources[name] = sum
		st.Facts[name] = encodeIDs(ids)
		if err := d.Recorder.Set("image."+strings.TrimPrefix(name, ArtifactPrefix), encodeIDs(ids)); err != nil {
			return changed, err
		}
		changed = true
	}
	if changed {
		return true, binary.SaveStamp(d.Root, d.Recorder, Component, st)
	}
	return false, nil
}

func openTar(path string) (*os.File, error) { return os.Open(path) }
