package containerd

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// WaitReady polls containerd's Version API on socket, with backoff, until it
// answers or ctx ends; the error then says what was waited for.
func WaitReady(ctx context.Context, socket string, log logrus.FieldLogger) error {
	c, err := client.New(socket, client.WithTimeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("containerd client for %s: %w", socket, err)
	}
	defer c.Close()
	last, err := wait.Answer(ctx, func(ctx context.Context) error {
		v, err := c.Version(ctx)
		if err == nil {
			log.WithFields(logrus.Fields{"component": Component, "version": v.Version}).Debug("containerd answers")
		}
		return err
	}, func(error) { log.WithField("socket", socket).Info("waiting for containerd to answer") })
	if err != nil {
		return fmt.Errorf("containerd did not answer on %s (last error: %v): see `journalctl -u %s`: %w", socket, last, UnitName, err)
	}
	return nil
}

// Version asks the running containerd for its version (for status).
func Version(ctx context.Context, socket string) (string, error) {
	c, err := client.New(socket, client.WithTimeout(2*time.Second))
	if err != nil {
		return "", err
	}
	defer c.Close()
	v, err := c.Version(ctx)
	if err != nil {
		return "", fmt.Errorf("containerd on %s: %w", socket, err)
	}
	return v.Version, nil
}
