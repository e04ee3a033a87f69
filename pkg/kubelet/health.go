package kubelet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// Healthy asks the kubelet's healthz endpoint once.
func Healthy(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		return fmt.Errorf("kubelet healthz: %s %q", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// WaitHealthy polls url with backoff until the kubelet says ok or ctx ends.
func WaitHealthy(ctx context.Context, url string, log logrus.FieldLogger) error {
	last, err := wait.Answer(ctx, 200*time.Millisecond, func(ctx context.Context) error { return Healthy(ctx, url) }, func(error) {
		log.WithFields(logrus.Fields{"component": Component, "url": url}).Info("waiting for the kubelet to be healthy")
	})
	if err != nil {
		return fmt.Errorf("kubelet not healthy at %s (last error: %v): see `journalctl -u %s`: %w", url, last, UnitName, err)
	}
	return nil
}
