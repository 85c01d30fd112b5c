#!/usr/bin/env bash
# bundle.sh <outdir> <name=entry.ts>...: bundles TypeScript entry points into one ESM file each
# (<outdir>/<name>.mjs) with esbuild from node_modules, so an image runs plain `node` with no
# TypeScript loader and no node_modules. A banner gives bundled CommonJS packages `require`.
set -euo pipefail
out=$1
shift
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
"$root/node_modules/.bin/esbuild" "$@" --bundle --platform=node --target=node24 --format=esm \
  --outdir="$out" --out-extension:.js=.mjs --minify-syntax --minify-whitespace \
  --legal-comments=none --log-level=warning \
  --banner:js="import{createRequire as __genomeRequire}from'node:module';const require=__genomeRequire(import.meta.url);"
