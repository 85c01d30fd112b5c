#!/usr/bin/env bash
# Builds cert-manager's controllers and CA injector for the node tests (test/node/cert-manager.test.ts)
# from cert-manager's published Go module, as build-control-plane.sh builds Kubernetes. The module
# proxy serves github.com/cert-manager/cert-manager with its pkg/... packages but not the
# separate cmd/controller and cmd/cainjector modules, so cluster/cert-manager/main.go (our own,
# pinned by its go.mod and go.sum) starts the controllers the chart's cert-manager mode needs.
# The CRDs come from the same module version (its deploy/crds in the Go module cache).
# A second run with the same sources finds the binary and returns at once.
#   --print-dir  print the cache dir (bin/cert-manager, crds/) (building first when needed)
#   --check      print the cache dir if built, else fail at once (never build)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/cluster/cert-manager"
MODULE=github.com/cert-manager/cert-manager
VERSION="$(awk -v m="$MODULE" '$1 == m { print $2 }' "$SRC/go.mod" | head -1)"
[[ -n "$VERSION" ]] || VERSION="$(awk -v m="$MODULE" '$1 == "require" && $2 == m { print $3 }' "$SRC/go.mod")"
# The sources' digest names the build: a change to main.go, go.mod or go.sum builds again.
DIGEST="$(cat "$SRC/main.go" "$SRC/go.mod" "$SRC/go.sum" | sha256sum | cut -c1-12)"
CACHE_ROOT="${GENOME_CERT_MANAGER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genome-operator/cert-manager}"
DEST="$CACHE_ROOT/$VERSION-$DIGEST"
STAMP="$DEST/.built"

log() { printf '[cert-manager] %s\n' "$*" >&2; }

built() { [[ -x "$DEST/bin/cert-manager" && -f "$STAMP" ]]; }

if built; then
  [[ "${1:-}" == "--print-dir" || "${1:-}" == "--check" ]] && echo "$DEST"
  exit 0
fi
[[ "${1:-}" == "--check" ]] && { log "cert-manager $VERSION not built in $DEST: run make cert-manager"; exit 1; }

command -v go >/dev/null || { log "go is required to build cert-manager"; exit 1; }
[[ -n "$VERSION" ]] || { log "no $MODULE version in $SRC/go.mod"; exit 1; }
start=$(date +%s)
rm -rf "$DEST"
mkdir -p "$DEST/bin" "$DEST/crds"
# readonly: go.sum pins every module; the build never rewrites the work tree.
export GOFLAGS=-mod=readonly GOTOOLCHAIN=local CGO_ENABLED=0

log "building cert-manager $VERSION (controller, cainjector) with $(go version | cut -d' ' -f3) into $DEST"
log "the first build takes a few minutes; later runs reuse the cache"
go -C "$SRC" build -trimpath -ldflags "-s -w" -o "$DEST/bin/cert-manager" .

module_dir="$(go -C "$SRC" mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -d "$module_dir/deploy/crds" ]] || { log "no deploy/crds in $MODULE@$VERSION ($module_dir)"; exit 1; }
cp "$module_dir"/deploy/crds/cert-manager.io_*.yaml "$DEST/crds/"
chmod u+w "$DEST"/crds/*.yaml

touch "$STAMP"
# Earlier builds (other sources or versions) are of no further use.
find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -type d ! -path "$DEST" -exec rm -rf {} +
log "done in $(( $(date +%s) - start ))s: $DEST"
[[ "${1:-}" == "--print-dir" ]] && echo "$DEST"
exit 0
