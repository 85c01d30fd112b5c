#!/usr/bin/env bash
# Builds the `helm` client (Helm 4, the Go module helm.sh/helm/v4) at a pinned version into a
# cache outside the work tree, the same way build-control-plane.sh builds the control plane.
# A second run with the same version finds the binary (and its version stamp) and returns at
# once. The chart in charts/genome-operator also works with Helm 3; this only builds Helm 4.
#   --print-dir  print the bin dir (building first when needed)
#   --check      print the bin dir if helm is built, else fail at once (never build)
set -euo pipefail

HELM_VERSION="${HELM_VERSION:-v4.3.1}"
CACHE_ROOT="${GENOME_HELM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/genome-operator/helm}"
DEST="$CACHE_ROOT/helm-$HELM_VERSION"
STAMP="$DEST/bin/.version"

log() { printf '[helm] %s\n' "$*" >&2; }

# Built when the binary is there and its stamp names the pinned version (a half-finished build
# writes no stamp, so it is built again).
built() { [[ -x "$DEST/bin/helm" && "$(cat "$STAMP" 2>/dev/null)" == "$HELM_VERSION" ]]; }

if built; then
  [[ "${1:-}" == "--print-dir" || "${1:-}" == "--check" ]] && echo "$DEST/bin"
  exit 0
fi
[[ "${1:-}" == "--check" ]] && { log "helm $HELM_VERSION not built in $DEST/bin: run make helm"; exit 1; }

command -v go >/dev/null || { log "go is required to build helm"; exit 1; }
start=$(date +%s)
work="$DEST/build"
rm -rf "$work" "$DEST/bin"
mkdir -p "$work" "$DEST/bin"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

log "building helm $HELM_VERSION with $(go version | cut -d' ' -f3) into $DEST"
log "the first build takes a few minutes; later runs reuse the cache"

cat >"$work/go.mod" <<MOD
module genome-operator.local/helm

go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')

require helm.sh/helm/v4 $HELM_VERSION
MOD
(
  cd "$work"
  go mod download helm.sh/helm/v4
  # helm's own go.mod pins its dependencies; `go mod tidy`-like resolution through a
  # blank import keeps exactly those versions (minimal version selection).
  cat >tools.go <<'GO'
//go:build tools

package tools

import _ "helm.sh/helm/v4/cmd/helm"
GO
  go mod tidy -e >/dev/null 2>&1 || true
  go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    -o "$DEST/bin/helm" helm.sh/helm/v4/cmd/helm
)
"$DEST/bin/helm" version --short | grep -q "^${HELM_VERSION}" ||
  { log "the built helm does not report $HELM_VERSION: $("$DEST/bin/helm" version --short)"; exit 1; }
echo "$HELM_VERSION" >"$STAMP"
rm -rf "$work"
log "done in $(( $(date +%s) - start ))s: $DEST/bin"
[[ "${1:-}" == "--print-dir" ]] && echo "$DEST/bin"
exit 0
