#!/usr/bin/env bash
# Installs this checkout the way a linux-arm64 gateway without build tools would, under qemu user-mode
# emulation on an x64 Debian/Ubuntu machine, and runs a smoke echo there. What it needs:
#   apt-get install -y qemu-user-static     (root; provides qemu-aarch64-static)
# It fetches, into $WORK (default /tmp/c8y-tunnel-arm64, outside the repo):
#   - Node for linux-arm64 from the npm registry (scripts/node-line.sh <line> arm64),
#   - arm64 glibc and libstdc++ for qemu's -L sysroot (apt-get download, with a private apt state:
#     the machine's package configuration is not touched),
# packs this checkout (npm pack), unpacks it, adds package-lock.json, and runs `npm ci --omit=dev`
# with the emulated Node, a PATH that holds no compiler, make or python, then scripts/smoke-echo.js.
# Usage: scripts/qemu-arm64.sh [node line, default 24]     (SMOKE_MIB sets the echo size)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
line="${1:-24}"
work="${WORK:-/tmp/c8y-tunnel-arm64}"
qemu="$(command -v qemu-aarch64-static)" || { echo "qemu-arm64: install qemu-user-static first" >&2; exit 2; }
mkdir -p "$work"
cd "$work"

echo "== node $line for linux-arm64 (npm registry)"
node_arm64="$("$repo/scripts/node-line.sh" "$line" arm64)"

echo "== arm64 sysroot (glibc, libstdc++)"
sysroot="$work/sysroot"
if [ ! -e "$sysroot/lib/ld-linux-aarch64.so.1" ]; then
  mkdir -p apt/lists/partial apt/archives/partial debs "$sysroot"
  apt_opts=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Dir::State::Lists="$work/apt/lists"
    -o Dir::Cache="$work/apt" -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
  apt-get "${apt_opts[@]}" update -qq
  (cd debs && apt-get "${apt_opts[@]}" download libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)
  for deb in debs/*.deb; do dpkg-deb -x "$deb" "$sysroot"; done
fi

# `node` for every child (npm's scripts, #!/usr/bin/env node): the arm64 binary under qemu.
mkdir -p bin tools
cat > bin/node <<WRAP
#!/bin/sh
exec "$qemu" -L "$sysroot" "$node_arm64" "\$@"
WRAP
chmod +x bin/node
# The only host tools on the PATH: a shell and coreutils-like basics. No cc, gcc, g++, make, python.
for t in sh bash env uname cat rm mkdir cp mv ls sed grep chmod ln dirname basename readlink tr head tail; do
  p="$(command -v "$t" || true)"; [ -n "$p" ] && ln -sf "$p" "tools/$t"
done
clean_path="$work/bin:$work/tools"
for c in cc gcc g++ c++ make python3 python; do
  if PATH="$clean_path" command -v "$c" >/dev/null 2>&1; then echo "qemu-arm64: $c is on the clean PATH" >&2; exit 1; fi
done
npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"

echo "== pack (on the host)"
rm -rf pack app && mkdir pack app
(cd "$repo" && npm pack --silent --pack-destination "$work/pack" >/dev/null)
tar -xzf pack/*.tgz -C app
cp "$repo/package-lock.json" app/package/
cp "$repo/scripts/smoke-echo.js" app/package/scripts/

echo "== npm ci --omit=dev under qemu (arm64, no build tools)"
cd app/package
PATH="$clean_path" node -p '`node ${process.version} ${process.platform}-${process.arch}`'
start=$(date +%s)
set +e
PATH="$clean_path" node "$npm_cli" ci --omit=dev --prefer-offline --no-audit --no-fund --foreground-scripts > "$work/npm-ci.log" 2>&1
rc=$?
set -e
echo "npm ci exit $rc in $(( $(date +%s) - start )) s (log: $work/npm-ci.log)"
grep -E "bufferutil|gyp|not found|added" "$work/npm-ci.log" | head -20 || true
[ "$rc" = 0 ] || exit "$rc"
echo "bufferutil installed: $([ -d node_modules/bufferutil ] && echo yes || echo no)"

echo "== smoke echo under qemu"
start=$(date +%s)
PATH="$clean_path" node scripts/smoke-echo.js
echo "smoke echo in $(( $(date +%s) - start )) s"
