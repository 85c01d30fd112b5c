#!/usr/bin/env bash
# Builds the real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kubectl) from their published Go modules, at pinned versions, into a cache outside the work
# tree. A second run with the same versions finds the binaries and returns at once.
# The node's binaries (kubelet, containerd, ...) are built by build-node.sh beside it.
set -euo pipefail
# shellcheck source=lib/k8s-wrapper-module.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/k8s-wrapper-module.sh"

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
write_k8s_wrapper_module "$work/k8s" "$K8S_VERSION" genome-operator.local/control-plane
(
  cd "$work/k8s"
  go mod download k8s.io/kubernetes
  go build -trimpath -ldflags "$(k8s_version_ldflags "$K8S_VERSION")" \
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
