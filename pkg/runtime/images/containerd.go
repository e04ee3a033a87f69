package images

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// Containerd is the image store of containerd's k8s.io namespace.
type Containerd struct{ c *client.Client }

// NewContainerd connects (lazily) to containerd on socket.
func NewContainerd(socket string) (*Containerd, error) {
	c, err := client.New(socket, client.WithDefaultNamespace(Namespace), client.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("containerd client for %s: %w", socket, err)
	}
	return &Containerd{c: c}, nil
}

// Load imports the tarball and unpacks each image for the default
// snapshotter, as the CRI plugin expects to find it.
func (s *Containerd) Load(ctx context.Context, tarball string) (map[string]string, error) {
	f, err := openTar(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	imgs, err := s.c.Import(ctx, f)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, img := range imgs {
		if err := client.NewImage(s.c, img).Unpack(ctx, ""); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", img.Name, err)
		}
		ids[img.Name] = img.Target.Digest.String()
	}
	return ids, nil
}

// ID implements Store: the digest of the image's target.
func (s *Containerd) ID(ctx context.Context, ref string) (string, error) {
	img, err := s.c.ImageService().Get(ctx, ref)
	if errors.Is(err, errdefs.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("containerd image %s: %w", ref, err)
	}
	return img.Target.Digest.String(), nil
}

// Close implements Store.
func (s *Containerd) Close() error { return s.c.Close() }
