package images

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Docker is dockerd's image store, spoken to over its unix socket with the
// plain HTTP API (no SDK dependency).
type Docker struct{ http *http.Client }

// NewDocker returns a client of the docker daemon on socket.
func NewDocker(socket string) *Docker {
	return &Docker{http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}}
}

// Load posts the tarball to /images/load and reads the loaded references
// from the answer, then asks each one's image ID.
func (s *Docker) Load(ctx context.Context, tarball string) (map[string]string, error) {
	f, err := openTar(tarball)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://docker/images/load?quiet=1", f)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-tar")
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker load: %w (is docker running?)", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("docker load: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var refs []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		if m.Error != "" {
			return nil, fmt.Errorf("docker load: %s", m.Error)
		}
		if ref, ok := strings.CutPrefix(strings.TrimSpace(m.Stream), "Loaded image: "); ok {
			refs = append(refs, ref)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("docker load: %w", err)
	}
	ids := map[string]string{}
	for _, r := range refs {
		id, err := s.ID(ctx, r)
		if err != nil {
			return nil, err
		}
		ids[r] = id
	}
	return ids, nil
}

// ID implements Store via GET /images/{ref}/json.
func (s *Docker) ID(ctx context.Context, ref string) (string, error) {
	u := url.URL{Scheme: "http", Host: "docker", Path: "/images/" + ref + "/json"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("docker image %s: %w (is docker running?)", ref, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return "", nil
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("docker image %s: %s: %s", ref, resp.Status, strings.TrimSpace(string(b)))
	}
	var m struct {
		ID string `json:"Id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return "", fmt.Errorf("docker image %s: %w", ref, err)
	}
	return m.ID, nil
}

// Close implements Store.
func (s *Docker) Close() error { s.http.CloseIdleConnections(); return nil }
