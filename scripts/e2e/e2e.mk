# End-to-end environment and tests; included by the top-level Makefile.
# Everything runs as root; the cache ($E2E_CACHE, default /var/cache/add2tkectl-e2e)
# keeps the built Kubernetes, etcd, rootfs and artifact set between runs.
E2E_SCRIPTS := scripts/e2e
GO ?= go

.PHONY: demo demo-down e2e e2e-env-up e2e-env-down compat

demo:
	$(E2E_SCRIPTS)/demo

demo-down:
	$(E2E_SCRIPTS)/down

# The timeout holds a cold environment build (about 25 min on 2 cores) and
# every test.
e2e:
	$(GO) test -tags e2e -count=1 -timeout 80m ./test/e2e/...

# compat runs the whole compatibility matrix and prints its table
# (scripts/e2e/compat.sh; hours the first time: a kubelet build per minor).
compat:
	$(E2E_SCRIPTS)/compat.sh

e2e-env-up:
	$(E2E_SCRIPTS)/up

e2e-env-down:
	$(E2E_SCRIPTS)/down
