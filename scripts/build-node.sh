#!/usr/bin/env bash
# Builds the binaries of a local Kubernetes node from their published Go modules, at pinned
# versions, into a cache outside the work tree: kube-scheduler, kubelet and kube-proxy (the same
# k8s.io/kubernetes wrapper module as the control plane), containerd with its runc shim and ctr,
# runc (with seccomp, against Debian's libseccomp), the CNI plugins the node uses (bridge,
# host-local, loopback) and crictl. A second run with the same versions returns at once.
# Usage: build-node.sh [--check|--print-dir]
set -euo pipefail
# shellcheck source=lib/k8s-wrapper-module.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/k8s-wrapper-module.sh"

K8S_VERSION="${K8S_VERSION:-v1.37.2}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.4.2}"
RUNC_VERSION="${RUNC_VERSION:-v1.5.3}"
CNI_PLUGINS_VERSION="${CNI_PLUGINS_VERSION:-v1.10.0}"
CRI_TOOLS_VERSION="${CRI_TOOLS_VERSION:-v1.37.0}"
CACHE_ROOT="${GENOME_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genome-operator/node}"
DEST="$CACHE_ROOT/k8s-$K8S_VERSION-containerd-$CONTAINERD_VERSION-runc-$RUNC_VERSION-cni-$CNI_PLUGINS_VERSION-crictl-$CRI_TOOLS_VERSION"
BINARIES=(kube-scheduler kubelet kube-proxy containerd containerd-shim-runc-v2 ctr runc crictl
  cni/bridge cni/host-local cni/loopback)

log() { printf '[node] %s\n' "$*" >&2; }

# apt_install PACKAGE...: Debian's packages, for what the node needs from the system.
apt_install() {
  command -v apt-get >/dev/null || { log "no apt-get: install $* (or their equivalents) and run again"; exit 1; }
  log "installing Debian's $*"
  # apt-get update only when a package is unknown (a fresh machine has no lists yet).
  apt-cache show "$@" >/dev/null 2>&1 || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have_all() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$DEST/bin/$b" ]] || return 1; done
}

# kube-proxy runs iptables-restore at run time; it is a system package, not a Go module.
if [[ "${1:-}" != "--check" ]] && ! command -v iptables-restore >/dev/null; then apt_install iptables; fi

if have_all; then
  [[ "${1:-}" == "--print-dir" || "${1:-}" == "--check" ]] && echo "$DEST/bin"
  exit 0
fi
# --check: print the bin dir if the binaries are built, else fail at once (never build).
[[ "${1:-}" == "--check" ]] && { log "not built in $DEST/bin: run make node"; exit 1; }

command -v go >/dev/null || { log "go is required to build the node"; exit 1; }
start=$(date +%s)
work="$DEST/build"
mkdir -p "$work/k8s" "$DEST/bin/cni"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$DEST/bin"

log "building the node (Kubernetes $K8S_VERSION, containerd $CONTAINERD_VERSION, runc $RUNC_VERSION," \
  "CNI plugins $CNI_PLUGINS_VERSION, crictl $CRI_TOOLS_VERSION) with $(go version | cut -d' ' -f3) into $DEST"

step() { log "$1 ($(($(date +%s) - start))s)"; }

# --- kube-scheduler, kubelet, kube-proxy ---------------------------------------------------
if [[ ! -x "$DEST/bin/kubelet" || ! -x "$DEST/bin/kube-proxy" || ! -x "$DEST/bin/kube-scheduler" ]]; then
  write_k8s_wrapper_module "$work/k8s" "$K8S_VERSION" genome-operator.local/node
  (
    cd "$work/k8s"
    go mod download k8s.io/kubernetes
    go build -trimpath -ldflags "$(k8s_version_ldflags "$K8S_VERSION")" -o "$DEST/bin/" \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  )
  step "kube-scheduler, kubelet, kube-proxy built"
fi

# --- containerd, its runc shim, ctr (static; no btrfs/devmapper/zfs snapshotters) -----------
if [[ ! -x "$DEST/bin/containerd" || ! -x "$DEST/bin/containerd-shim-runc-v2" || ! -x "$DEST/bin/ctr" ]]; then
  go install -trimpath -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"
  step "containerd, containerd-shim-runc-v2, ctr built"
fi

# --- runc: cgo with seccomp, so pods get the runtime's default seccomp profile -------------
if [[ ! -x "$DEST/bin/runc" ]]; then
  pkg-config --exists libseccomp 2>/dev/null || apt_install libseccomp-dev pkg-config
  CGO_ENABLED=1 go install -trimpath -tags seccomp \
    -ldflags "-s -w -X main.version=${RUNC_VERSION#v}" \
    "github.com/opencontainers/runc@$RUNC_VERSION"
  step "runc built"
fi

# --- CNI plugins: only the three the node's network uses ------------------------------------
if [[ ! -x "$DEST/bin/cni/bridge" || ! -x "$DEST/bin/cni/host-local" || ! -x "$DEST/bin/cni/loopback" ]]; then
  GOBIN="$DEST/bin/cni" go install -trimpath \
    -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    "github.com/containernetworking/plugins/plugins/main/bridge@$CNI_PLUGINS_VERSION" \
    "github.com/containernetworking/plugins/plugins/ipam/host-local@$CNI_PLUGINS_VERSION" \
    "github.com/containernetworking/plugins/plugins/main/loopback@$CNI_PLUGINS_VERSION"
  step "CNI plugins bridge, host-local, loopback built"
fi

# --- crictl ---------------------------------------------------------------------------------
if [[ ! -x "$DEST/bin/crictl" ]]; then
  go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_TOOLS_VERSION"
  step "crictl built"
fi

have_all || { log "build finished but a binary is missing in $DEST/bin"; exit 1; }
rm -rf "$work"
log "done in $(($(date +%s) - start))s: $DEST/bin"
[[ "${1:-}" == "--print-dir" ]] && echo "$DEST/bin"
exit 0
