package containerd

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/sirupsen/logrus"
)

// WaitReady polls containerd's Version API on socket, with backoff, until it
// answers or ctx ends; the error then says what was waited for.
func WaitReady(ctx context.Context, socket string, log logrus.FieldLogger) error {
	c, err := client.New(socket, client.WithTimeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("containerd client for %s: %w", socket, err)
	}
	defer c.Close()
	delay := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := c.Version(actx)
		cancel()
		if err == nil {
			log.WithFields(logrus.Fields{"component": Component, "version": v.Version}).Debug("containerd answers")
			return nil
		}
		if attempt == 1 {
			log.WithField("socket", socket).Info("waiting for containerd to answer")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd did not answer on %s (last error: %v): see `journalctl -u %s`: %w", socket, err, UnitName, ctx.Err())
		case <-time.After(delay):
		}
		if delay *= 2; delay > 2*time.Second {
			delay = 2 * time.Second
		}
	}
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
