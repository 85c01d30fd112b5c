#!/usr/bin/env bash
# Writes the build context of this image into $1: the static test-server binary.
set -euo pipefail
cd "$(dirname "$0")"
CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$1/test-server" .
