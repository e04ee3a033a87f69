#!/usr/bin/env bash
# build-kubelet.sh VERSION: the kubelet of one Kubernetes version
# from the Go module proxy, for the compatibility matrix (compat.sh), into
# $E2E_CACHE/kubelet-VERSION/bin. Its outcome is kept beside it in
# $E2E_CACHE/kubelet-VERSION/result: "built SECONDS" or "failed SECONDS STEP: ERROR",
# and the whole output in build.log, so a second run answers at once either way.
# FORCE=1 tries again.
#
# The build module requires k8s.io/kubernetes VERSION and replaces each staging
# module by its v0.X.Y, as build-k8s.sh does. No Kubernetes source is patched.
# The only other replace is of a dependency the proxy no longer serves, by its
# successor module (VANISHED below), said in the result when it was used.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

V=${1:?usage: build-kubelet.sh VERSION (v1.MINOR.PATCH)}
case $V in v1.*.*) ;; *) die "usage: build-kubelet.sh v1.MINOR.PATCH, not $V" ;; esac
DIR=$E2E_CACHE/kubelet-$V
RESULT=$DIR/result

# VANISHED: modules old Kubernetes requires that the proxy refuses, and their
# successor: vbom.ml/util (kubectl's sortorder, in the module graph of 1.18 and
# 1.19) lives on as github.com/fvbommel/sortorder. The kubelet does not import
# it; the module graph needs a go.mod for it all the same.
VANISHED="vbom.ml/util=>github.com/fvbommel/sortorder@v1.0.1"

# TOO_OLD: dependencies whose old versions build with today's Go but break
# at run time, and the first version that works: reflect2 before v1.0.2
# iterates maps through runtime internals that Go 1.18 changed, and the
# kubelet of 1.18-1.22 panics (nil pointer in UnsafeMapIterator.HasNext)
# when it writes its first kubeconfig; json-iterator v1.1.12 is the release
# that requires it. Used only where Kubernetes pins an older one.
TOO_OLD="github.com/modern-go/reflect2@v1.0.2 github.com/json-iterator/go@v1.1.12"

if [ -s "$RESULT" ] && [ -z "${FORCE:-}" ]; then
	cat "$RESULT"
	exit 0
fi
mkdir -p "$DIR"
start=$SECONDS
exec 3>&2
exec >"$DIR/build.log" 2>&1

# fail STEP: records the step and the log's last lines (the error) and stops.
fail() {
	local msg
	msg=$(grep -v '^[[:space:]]*$' "$DIR/build.log" | grep -v '^go: downloading' | tail -3 | tr -s ' \t\n' ' ') || true
	echo "failed $((SECONDS - start)) $1: $msg" >"$RESULT"
	cat "$RESULT" >&3
	exit 1
}

mod=$DIR/module
rm -rf "$mod"
mkdir -p "$mod"
staging=v0.${V#v1.}
# go mod download -json says its error in the JSON, on stdout: into the log.
(cd "$mod" && go mod download -json "k8s.io/kubernetes@$V") >"$DIR/download.json" || {
	cat "$DIR/download.json"
	fail "download k8s.io/kubernetes@$V"
}
gomod=$(sed -n 's/.*"GoMod": "\(.*\)",/\1/p' "$DIR/download.json")
[ -s "$gomod" ] || fail "download k8s.io/kubernetes@$V"
cat >"$mod/tools.go" <<'EOF'
//go:build tools

package k8sbin

import (
	_ "k8s.io/kubernetes/cmd/kubelet"
)
EOF
replaced=""
{
	echo 'module k8sbin'
	echo 'go 1.26.8'
	echo "require k8s.io/kubernetes $V"
	echo 'replace ('
	grep -E '=> ./staging' "$gomod" | awk -v v="$staging" '{print "\t"$1" => "$1" "v}'
	for r in $VANISHED; do
		from=${r%%=>*} to=${r#*=>}
		if grep -q "^[[:space:]]*$from " "$gomod"; then
			printf '\t%s => %s %s\n' "$from" "${to%@*}" "${to#*@}"
			replaced="$replaced $from=>$to"
		fi
	done
	for r in $TOO_OLD; do
		m=${r%@*} want=${r#*@}
		have=$(awk -v m="$m" '$1 == m && $2 ~ /^v/ {print $2} $1 == m && $2 == "=>" {print $4}' "$gomod" | sort -V | tail -1)
		if [ -n "$have" ] && [ "$(printf '%s\n%s\n' "$have" "$want" | sort -V | head -1)" != "$want" ]; then
			printf '\t%s => %s %s\n' "$m" "$m" "$want"
			replaced="$replaced $m@$have=>$want"
		fi
	done
	echo ')'
} >"$mod/go.mod"
(cd "$mod" && go mod tidy) || fail "go mod tidy"
(cd "$mod" && CGO_ENABLED=0 go build -trimpath \
	-ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$V" \
	-o "$DIR/bin.tmp/" k8s.io/kubernetes/cmd/kubelet) || fail "go build"
"$DIR/bin.tmp/kubelet" --version || fail "kubelet --version"
rm -rf "$DIR/bin"
mv "$DIR/bin.tmp" "$DIR/bin"
echo "built $((SECONDS - start))${replaced:+ replace$replaced}" >"$RESULT"
cat "$RESULT" >&3
