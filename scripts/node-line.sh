#!/usr/bin/env bash
# Prints the path of a Node binary of the given release line (default 24), fetched once from the npm
# registry's `node-linux-<arch>` packages (the official Node builds, repackaged) into a cache outside
# the repo. Usage: scripts/node-line.sh [line] [arch]   (arch: x64 or arm64; default: this machine's)
# The cache: $C8Y_TUNNEL_NODE_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/c8y-tunnel/node.
set -euo pipefail
line="${1:-24}"
case "$(uname -m)" in
  x86_64) host=x64 ;;
  aarch64|arm64) host=arm64 ;;
  *) host="" ;;
esac
arch="${2:-$host}"
[ -n "$arch" ] || { echo "node-line: no node-linux package for $(uname -m); pass x64 or arm64" >&2; exit 2; }
# Another CPU's binary (to run under qemu): npm refuses it unless forced.
force=()
[ "$arch" = "$host" ] || force=(--force)
case "$line" in *[!0-9]*|'') echo "node-line: the line is a major version number, e.g. 24" >&2; exit 2 ;; esac
cache="${C8Y_TUNNEL_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/c8y-tunnel/node}/linux-$arch-$line"
bin="$cache/node_modules/node-linux-$arch/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache"
  # --ignore-scripts: the package is a plain tarball of the official build; nothing to run.
  (cd "$cache" && npm install --no-save --no-audit --no-fund --ignore-scripts --os=linux --cpu="$arch" \
    "${force[@]}" --prefix "$cache" \
    "node-linux-$arch@$line" >&2)
fi
[ -x "$bin" ] || { echo "node-line: $bin missing after install" >&2; exit 1; }
echo "$bin"
