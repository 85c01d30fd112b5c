#!/usr/bin/env bash
# node-runtime.sh <dest>: writes the file system of a Node 24 runtime into <dest>: the official
# Linux x64 binary from the npm `node` package in node_modules (nothing downloaded), the glibc
# libraries it links (copied from this build host, resolved through ldd), and an /etc/passwd
# and /etc/group that name the non-root user 65532. Nothing else: no shell, no package manager.
set -euo pipefail
dest=$1
root="$(cd "$(dirname "$0")/.." && pwd)"
node="$(readlink -f "$root/node_modules/node/bin/node")"
[ -x "$node" ] || { echo "node-runtime.sh: $root/node_modules/node/bin/node is missing; run make deps" >&2; exit 1; }
"$node" --version | grep -q '^v24\.' || { echo "node-runtime.sh: expected Node 24, got $("$node" --version)" >&2; exit 1; }
mkdir -p "$dest/usr/local/bin" "$dest/etc"
cp "$node" "$dest/usr/local/bin/node"
# Every library ldd resolves (and the loader itself), at the path the binary asks for.
ldd "$node" | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' | while read -r lib; do
  mkdir -p "$dest$(dirname "$lib")"
  cp -L "$lib" "$dest$lib"
done
printf 'root:x:0:0:root:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$dest/etc/group"
