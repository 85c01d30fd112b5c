#!/usr/bin/env bash
# Writes the build context of the product image (the repository's root Dockerfile) into
# $1/build/image: runtime/ (Node 24 and its libraries, images/node-runtime.sh) and app/ (one
# esbuild bundle per program (cmd/): the webhook, the operator, the genome CLI, the init container's
# boot check, and the self-check the chart runs as its install hook and helm test). With Docker:
# run this with the repository root as $1, then `docker build .`; the .dockerignore sends only
# build/image.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="$1/build/image"
rm -rf "$out"
bash images/node-runtime.sh "$out/runtime"
entries=(
  webhook=cmd/webhook.ts
  operator=cmd/operator.ts
  genome=cmd/genome.ts
  genome-boot-check=cmd/genome-boot-check.ts
  genome-selfcheck=cmd/genome-selfcheck.ts
)
bash images/bundle.sh "$out/app" "${entries[@]}"
