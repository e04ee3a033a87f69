//go:build tools

// Package cridockerd pins the cri-dockerd the end-to-end environment builds
// for the docker artifact set (scripts/e2e/build-cri-dockerd.sh).
package cridockerd

import _ "github.com/Mirantis/cri-dockerd"
