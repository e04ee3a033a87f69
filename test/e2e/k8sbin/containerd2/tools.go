//go:build tools

// Package containerd2 pins the containerd 2 the end-to-end environment builds
// for the runtime upgrade test (scripts/e2e/build-containerd2.sh).
package containerd2

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
