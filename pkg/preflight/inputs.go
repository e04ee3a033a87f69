package preflight

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/network"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Dialer opens network connections (net.Dialer in production).
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Inputs is everything the checks look at. procfs, sysfs and every file are
// read under Root, so a test aims the checks at a fixture directory; the
// rest (identity, clock, network) is here so a test can set it.
type Inputs struct {
	Root   host.Root
	Config *config.NodePoolJoin

	EUID   int
	GOOS   string
	GOARCH string
	CPUs   int

	// Now is the host's clock.
	Now func() time.Time
	// Dialer reaches the API server and COS (or COS's proxy).
	Dialer Dialer
	// Proxy picks the proxy of a request to COS, as downloads do (the
	// site's proxy); nil reaches COS directly.
	Proxy func(*http.Request) (*url.URL, error)
	// Resolver resolves a host name in the API server endpoint.
	Resolver *net.Resolver
	// RootCAs verifies COS (nil: the system's roots).
	RootCAs *x509.CertPool
	// Timeout bounds each network check.
	Timeout time.Duration
	// Offline means artifacts come from --artifacts-dir: COS is not used.
	Offline bool

	// FreeBytes returns the bytes available to an unprivileged user in the
	// filesystem of the (existing) directory dir.
	FreeBytes func(dir string) (uint64, error)
	// NodeIP returns the source address of the route to the API server.
	NodeIP func(apiServer net.IP) (net.IP, error)
	// Ours reports whether a host path or unit name was installed by
	// add2tkectl (is in the journal).
	Ours func(pathOrUnit string) bool

	// discovery is the cluster CA read from cluster-info, when the
	// configuration gives caCertHashes without caData; shared by the copies
	// withDefaults makes.
	discovery *caDiscovery
	// version is the GET /version the API server checks of one run share;
	// nil: each asks its own.
	version *versionProbe
}

// DefaultInputs returns the inputs of the real host under root.
func DefaultInputs(root host.Root, cfg *config.NodePoolJoin) (*Inputs, error) {
	ours, err := JournalOwnership(root)
	if err != nil {
		return nil, err
	}
	return &Inputs{
		Root:      root,
		Config:    cfg,
		EUID:      os.Geteuid(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
		CPUs:      runtime.NumCPU(),
		Now:       time.Now,
		Dialer:    &net.Dialer{},
		Resolver:  net.DefaultResolver,
		Timeout:   5 * time.Second,
		FreeBytes: statfsFree,
		NodeIP:    network.NodeIP,
		Ours:      ours,
		discovery: &caDiscovery{},
	}, nil
}

// withDefaults fills what a caller left out with harmless values, so a test
// sets only what its check reads.
func (in *Inputs) withDefaults() *Inputs {
	c := *in
	if c.Config == nil {
		c.Config = &config.NodePoolJoin{}
		c.Config.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{}
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.FreeBytes == nil {
		c.FreeBytes = statfsFree
	}
	if c.NodeIP == nil {
		c.NodeIP = network.NodeIP
	}
	if c.Ours == nil {
		c.Ours = func(string) bool { return false }
	}
	if c.discovery == nil {
		c.discovery = &caDiscovery{}
	}
	return &c
}

func statfsFree(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// JournalOwnership reads the install journal under root and returns a
// predicate for "this path or unit is ours". A host without a journal owns
// nothing of ours.
func JournalOwnership(root host.Root) (func(string) bool, error) {
	j, err := phase.LoadJournal(root.Dir)
	if err != nil {
		return nil, err
	}
	owned := map[string]bool{}
	for _, f := range j.Files() {
		owned[f.Path] = true
	}
	for _, u := range j.Units() {
		owned[u] = true
	}
	return func(s string) bool { return owned[s] }, nil
}
