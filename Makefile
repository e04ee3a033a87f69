# add2tkectl build, test and release entry points.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/add2tkectl/add2tkectl/pkg/cli.version=$(VERSION) -X github.com/add2tkectl/add2tkectl/pkg/cli.commit=$(COMMIT)
GO      ?= go

.PHONY: build test lint fmt vet

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/add2tkectl ./cmd/add2tkectl

test:
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')
