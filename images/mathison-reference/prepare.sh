#!/usr/bin/env bash
# Writes the build context of the reference Mathison image into $1: the Node 24 runtime, one
# bundle of examples/mathison-reference/main.ts, and the governance tree a production genome
# pins (governance-tree.ts: the reference's modules built one by one under app/packages/).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash images/node-runtime.sh "$1/runtime"
bash images/bundle.sh "$1/app" mathison=examples/mathison-reference/main.ts
PATH="$PWD/node_modules/.bin:$PATH" tsx images/mathison-reference/governance-tree.ts "$1/app" >/dev/null
