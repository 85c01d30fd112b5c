#!/usr/bin/env bash
# Writes the build context of the reference Mathison image into $1: the Node 24 runtime and
# one bundle of examples/mathison-reference/main.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash images/node-runtime.sh "$1/runtime"
bash images/bundle.sh "$1/app" mathison=examples/mathison-reference/main.ts
