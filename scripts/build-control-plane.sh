#!/usr/bin/env bash
# Builds the real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kubectl) from their published Go modules, at pinned versions, into a cache outside the work
# tree. A second run with the same versions finds the binaries and returns at once.
#
# Why a wrapper module: k8s.io/kubernetes's own go.mod replaces its ~30 staging modules
# (k8s.io/api, k8s.io/apiserver, ...) with local ./staging paths, which a consumer cannot see.
# The wrapper requires k8s.io/kubernetes and pins each staging module to the matching v0.Y.Z.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-v3.7.3}"
CACHE_ROOT="${GENOME_CP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genome-operator/control-plane}"
DEST="$CACHE_ROOT/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
BINARIES=(etcd kube-apiserver kube-controller-manager kubectl)

log() { printf '[control-plane] %s\n' "$*" >&2; }

have_all() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$DEST/bin/$b" ]] || return 1; done
}

if have_all; then
  [[ "${1:-}" == "--print-dir" || "${1:-}" == "--check" ]] && echo "$DEST/bin"
  exit 0
fi
# --check: print the bin dir if the binaries are built, else fail at once (never build).
[[ "${1:-}" == "--check" ]] && { log "not built in $DEST/bin: run make control-plane"; exit 1; }

command -v go >/dev/null || { log "go is required to build the control plane"; exit 1; }
start=$(date +%s)
work="$DEST/build"
mkdir -p "$work/k8s" "$work/etcd" "$DEST/bin"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

log "building Kubernetes $K8S_VERSION and etcd $ETCD_VERSION with $(go version | cut -d' ' -f3) into $DEST"
log "the first build takes several minutes; later runs reuse the cache"

# --- kube-apiserver, kube-controller-manager, kubectl -------------------------------------
minor="${K8S_VERSION#v1.}"   # e.g. 37.2
staging_version="v0.$minor"
gomod_file=$(cd "$work/k8s" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod_file" | sort -u)
[[ -n "$staging" ]] || { log "found no staging replaces in $gomod_file"; exit 1; }
{
  echo "module genome-operator.local/control-plane"
  echo
  echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
  echo
  echo "require k8s.io/kubernetes $K8S_VERSION"
  echo
  echo "replace ("
  for m in $staging; do echo "	$m => $m $staging_version"; done
  echo ")"
} >"$work/k8s/go.mod"
log "wrapper module pins $(echo "$staging" | wc -l) staging modules to $staging_version"
(
  cd "$work/k8s"
  go mod download k8s.io/kubernetes
  go build -trimpath -ldflags "-s -w \
    -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
    -X k8s.io/component-base/version.gitMajor=1 \
    -X k8s.io/component-base/version.gitMinor=${minor%%.*} \
    -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION" \
    -o "$DEST/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl
)
log "kube-apiserver, kube-controller-manager, kubectl built"

# --- etcd ----------------------------------------------------------------------------------
cat >"$work/etcd/go.mod" <<MOD
module genome-operator.local/etcd

go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
(
  cd "$work/etcd"
  go mod download go.etcd.io/etcd/server/v3
  go build -trimpath -ldflags "-s -w" -o "$DEST/bin/etcd" go.etcd.io/etcd/server/v3
)
log "etcd built"

have_all || { log "build finished but a binary is missing in $DEST/bin"; exit 1; }
rm -rf "$work"
log "done in $(( $(date +%s) - start ))s: $DEST/bin"
[[ "${1:-}" == "--print-dir" ]] && echo "$DEST/bin"
exit 0
