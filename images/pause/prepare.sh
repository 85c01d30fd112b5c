#!/usr/bin/env bash
# Writes the build context of this image into $1: pause.c compiled as one static binary.
set -euo pipefail
cd "$(dirname "$0")"
gcc -static -Os -s -o "$1/pause" pause.c
