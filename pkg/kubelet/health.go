package kubelet

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// Healthy asks the kubelet's healthz endpoint once.
func Healthy(ctx context.Context, url string) error {
	return wait.Says(ctx, http.DefaultClient, "kubelet healthz", url, "ok")
}

// WaitHealthy polls url with backoff until the kubelet says ok or ctx ends.
func WaitHealthy(ctx context.Context, url string, log logrus.FieldLogger) error {
	last, err := wait.Answer(ctx, func(ctx context.Context) error { return Healthy(ctx, url) }, func(error) {
		log.WithFields(logrus.Fields{"component": Component, "url": url}).Info("waiting for the kubelet to be healthy")
	})
	if err != nil {
		return fmt.Errorf("kubelet not healthy at %s (last error: %v): see `journalctl -u %s`: %w", url, last, UnitName, err)
	}
	return nil
}
