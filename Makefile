# add2tkectl build, test and release entry points.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/add2tkectl/add2tkectl/pkg/cli.version=$(VERSION) -X github.com/add2tkectl/add2tkectl/pkg/cli.commit=$(COMMIT)
GO      ?= go

.PHONY: build test lint fmt check deps bench bench-download release-check release-snapshot packages faults fuzz

# check is README's test command: everything CI runs, from a fresh machine.
check: deps build lint test packages e2e

deps:
	scripts/ci-deps.sh
	scripts/e2e/deps.sh

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/add2tkectl ./cmd/add2tkectl

test:
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./test/e2e/
	@out=$$($(GO) mod tidy -diff 2>/dev/null) || { echo "go.mod/go.sum are not tidy (run go mod tidy):"; echo "$$out"; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

# bench prints where install's time goes beside the physical floor, the
# no-op, status and uninstall times, peak RSS and the binary's size, on fresh
# hosts of the e2e environment (scripts/bench.sh; about 5 minutes warm).
bench: build
	scripts/bench.sh

bench-download: build
	scripts/bench-download.sh

# faults runs the fault matrix against the e2e environment and prints its
# table (QUICK=1 for fewer trials); see scripts/faults.sh.
faults:
	scripts/faults.sh

# fuzz runs every fuzz target of the repository for FUZZTIME each (not in CI).
FUZZTIME ?= 60s
fuzz:
	@fail=""; \
	for dir in $$(grep -rl --include='*_test.go' --exclude-dir=.git '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do \
		for name in $$($(GO) test -list '^Fuzz' $$dir | grep '^Fuzz'); do \
			echo "fuzz: $$dir $$name for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) $$dir || fail="$$fail $$dir:$$name"; \
		done; \
	done; \
	if [ -n "$$fail" ]; then echo "fuzz: failed:$$fail"; exit 1; fi

include scripts/e2e/e2e.mk

# Release builds: linux amd64 + arm64 static binaries with SHA256SUMS.
GORELEASER := $(shell go env GOPATH)/bin/goreleaser
$(GORELEASER):
	$(GO) install github.com/goreleaser/goreleaser/v2@v2.15.1

release-check: $(GORELEASER)
	$(GORELEASER) check

# The binaries are copied to dist/ under the names SHA256SUMS gives them
# (goreleaser keeps them in per-target directories), and the sums verified.
release-snapshot: $(GORELEASER)
	COMMIT=$(COMMIT) $(GORELEASER) release --snapshot --clean
	cd dist && for arch in amd64 arm64; do cp add2tkectl_linux_$${arch}_*/add2tkectl add2tkectl-linux-$$arch; done && sha256sum -c --quiet SHA256SUMS

# packages builds the deb and rpm of amd64 and arm64 with nfpm and
# packaging/nfpm.yaml (the same contents as goreleaser's nfpms section, so
# CI need not install goreleaser: 12 min cold, nfpm 3), under goreleaser's
# names, and checks their contents; test/e2e/package_test.go installs the
# amd64 deb from dist/. bin/add2tkectl is left the amd64 build.
NFPM := $(shell go env GOPATH)/bin/nfpm
$(NFPM):
	$(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

PKG_VERSION := 0.0.0-SNAPSHOT-$(COMMIT)
packages: $(NFPM)
	rm -f dist/add2tkectl_*.deb dist/add2tkectl_*.rpm
	mkdir -p dist
	for arch in arm64 amd64; do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath \
			-ldflags '-s -w -X github.com/add2tkectl/add2tkectl/pkg/cli.version=$(PKG_VERSION) -X github.com/add2tkectl/add2tkectl/pkg/cli.commit=$(COMMIT)' \
			-o bin/add2tkectl ./cmd/add2tkectl || exit 1; \
		for fmt in deb rpm; do \
			GOARCH=$$arch VERSION=$(PKG_VERSION) $(NFPM) package -f packaging/nfpm.yaml -p $$fmt \
				-t dist/add2tkectl_$(PKG_VERSION)_linux_$$arch.$$fmt || exit 1; \
		done; \
	done
	scripts/check-packages.sh dist
