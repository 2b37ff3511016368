#!/usr/bin/env bash
# GPU check of the kit on the webgpu backend (Dawn + Vulkan/Metal/D3D12, no CUDA): prints the backend
# line, the bench32 throughput, a short MNIST training run with its sample grid, and, where python3 has
# PyTorch with CUDA, the PyTorch yardstick (torch_reference.py --device cuda) on the same GPU.
#
# Runs from the compiled kit (dist/). On a machine without Node.js or without the packages (an
# air-gapped GPU server) it unpacks what scripts/pack-gpu.sh (or ../shared/device/pack-webgpu.sh)
# wrote to .gpu-carry/: the node binary, the reduced node_modules, the compiled kit, and the Vulkan
# loader (into .gpu-carry/gl-root, used only when the system has no libvulkan.so.1).
#
# Usage: bash scripts/gpu-check.sh [--steps N] [--iters N] [--no-train] [--no-torch] [--backend NAME]
#   (--backend wasm gives the same figures for the CPU, e.g. as a baseline on the same machine)
# Environment: NODE (node binary to use), PYTHON (python with torch; default python3),
#   BIGBIGAN_TORCH_REFERENCE (path of torch_reference.py), GPU_CHECK_TIMEOUT (seconds per stage, default 900),
#   VK_DRIVER_FILES (Vulkan driver manifest; set automatically for /usr/local/nvidia's, as in NVIDIA containers).
# Exit status: 0 when the backend started and the bench and training ran, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD carry=$PWD/.gpu-carry
steps=200 iters=10 train=1 torch=1 backend=webgpu timeout_s=${GPU_CHECK_TIMEOUT:-900}
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --iters) iters="$2"; shift 2 ;;
    --no-train) train=0; shift ;;
    --no-torch) torch=0; shift ;;
    --backend) backend="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
say() { printf '[gpu-check] %s\n' "$*"; }
die() { printf '[gpu-check] error: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
limit() { if command -v timeout >/dev/null; then timeout "$timeout_s" "$@"; else "$@"; fi; }
logs=$root/runs/gpu-check-logs; mkdir -p "$logs"

# --- Node.js: $NODE, node on PATH, or the packed binary
if [ -n "${NODE:-}" ]; then node_bin=$NODE
elif command -v node >/dev/null; then node_bin=$(command -v node)
elif [ -f "$carry/node.xz" ]; then
  node_bin=${TMPDIR:-/tmp}/bigbigan-node/node
  if [ ! -x "$node_bin" ]; then
    say "unpacking node from .gpu-carry/node.xz"
    mkdir -p "$(dirname "$node_bin")" && xz -dc "$carry/node.xz" > "$node_bin" && chmod +x "$node_bin" || die "could not unpack .gpu-carry/node.xz (is xz installed?)"
  fi
else die "no Node.js: set NODE, put node on PATH, or pack one with scripts/pack-gpu.sh"
fi
"$node_bin" --version >/dev/null 2>&1 || die "$node_bin does not run"

# --- packages and compiled kit
if [ ! -d node_modules/webgpu ] || [ ! -f node_modules/@tensorflow/tfjs-core/package.json ]; then
  [ -f "$carry/nm.tar.xz" ] || die "node_modules lacks webgpu/@tensorflow: npm install, or pack .gpu-carry/ with scripts/pack-gpu.sh"
  say "unpacking node_modules from .gpu-carry/nm.tar.xz"
  tar -C "$root" -xJf "$carry/nm.tar.xz" || die "could not unpack .gpu-carry/nm.tar.xz"
fi
if [ ! -f dist/src/cli.js ]; then
  if [ -f "$carry/dist.tar.xz" ]; then say "unpacking the compiled kit from .gpu-carry/dist.tar.xz"; tar -C "$root" -xJf "$carry/dist.tar.xz" || die "could not unpack .gpu-carry/dist.tar.xz"
  elif command -v npm >/dev/null && [ -f tsconfig.json ]; then say "compiling the kit"; npm run build --silent || die "npm run build failed"
  else die "dist/src/cli.js is missing: run npm run build (or copy dist/ along)"
  fi
fi

# --- Vulkan (Linux): the loader, and NVIDIA's driver manifest where containers put it
if [ "$(uname -s)" = Linux ]; then
  if ! "$node_bin" -e "process.exit(require('./dist/src/backend/select.js').vulkanLoaderFound() ? 0 : 1)"; then
    debs=("$carry"/gl/*.deb)
    if [ -f "${debs[0]}" ] && command -v dpkg >/dev/null; then
      say "no libvulkan.so.1 on this system: using the packed one (.gpu-carry/gl-root)"
      for f in "${debs[@]}"; do dpkg -x "$f" "$carry/gl-root"; done
      for d in "$carry"/gl-root/usr/lib/*-linux-gnu "$carry"/gl-root/usr/lib; do [ -d "$d" ] && LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
      export LD_LIBRARY_PATH
    else
      say "warning: no libvulkan.so.1 on this system and no packed .deb files: install libvulkan1 (Dawn needs it)"
    fi
  fi
  if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  fi
fi

machine="$(uname -sm)"
if command -v nvidia-smi >/dev/null; then machine="$machine; $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"; fi
say "machine: $machine; node $("$node_bin" --version)${VK_DRIVER_FILES:+; VK_DRIVER_FILES=$VK_DRIVER_FILES}"

# --- backend
backend_line=$("$node_bin" dist/src/cli.js backend --backend "$backend" 2>"$logs/backend.err")
backend_ok=$?
if [ $backend_ok -ne 0 ]; then
  backend_line="FAILED: $(grep -v '^ *at \|^$' "$logs/backend.err" | tail -1)"
fi
say "backend: $backend_line"

# --- bench32 on webgpu
bench_json='' bench_ok=1
if [ $backend_ok -eq 0 ]; then
  say "bench32 on $backend ($iters iterations)..."
  if limit "$node_bin" dist/src/cli.js bench --preset bench32 --backend "$backend" --json --iters "$iters" >"$logs/bench.json" 2>"$logs/bench.err"; then
    bench_json=$(tail -1 "$logs/bench.json"); bench_ok=0
  fi
fi
bench_summary=$("$node_bin" -e '
  const [ok, line, errFile, backendOk] = process.argv.slice(1);
  if (backendOk !== "0") { console.log("not run (no backend)"); process.exit(); }
  if (ok !== "0") { const e = require("fs").existsSync(errFile) ? require("fs").readFileSync(errFile, "utf8").split("\n").filter((l) => l.trim() && !/^\s+at /.test(l)).pop() : ""; console.log(`FAILED${e ? ": " + e : ""}`); process.exit(); }
  const b = JSON.parse(line);
  console.log(`d_step ${b.d_step_ms} ms, eg_step ${b.eg_step_ms} ms, iter ${b.iter_ms} ms, ${b.img_per_s} img/s (batch ${b.batch}, backend ${b.backend}, peak RSS ${b.peak_rss_mib} MiB)`);
' "$bench_ok" "$bench_json" "$logs/bench.err" "$backend_ok")
say "bench32: $bench_summary"

# --- a short training run with a sample grid
train_summary='skipped' train_ok=0
if [ $train -eq 1 ]; then
  train_ok=1
  if [ $backend_ok -eq 0 ]; then
    out=runs/gpu-check
    [ -e "$out" ] && mv "$out" "$out.$(date +%Y%m%d-%H%M%S)"
    say "training $steps steps on $backend (mnist preset) into $out..."
    t0=$(now)
    if limit "$node_bin" dist/src/cli.js train --steps "$steps" --backend "$backend" --out "$out" --set evalEvery=0 >"$logs/train.out" 2>"$logs/train.err"; then
      train_ok=0
      wall=$(secs "$t0" "$(now)")
      grid=$(grep '^samples:' "$logs/train.out" | cut -d' ' -f2-)
      last=$(grep '^step ' "$logs/train.out" | tail -1)
      train_summary="$steps steps in $wall s wall ($(awk -v s="$steps" -v w="$wall" 'BEGIN { printf "%.1f", s / w }') steps/s, start-up included); $last; samples: $grid"
    fi
  fi
  if [ $backend_ok -ne 0 ]; then train_summary='not run (no backend)'
  elif [ $train_ok -ne 0 ]; then train_summary="FAILED: $(grep -v '^ *at \|^$' "$logs/train.err" 2>/dev/null | tail -1)"; fi
  say "train: $train_summary"
fi

# --- PyTorch-CUDA yardstick on the same GPU
torch_summary='skipped'
if [ $torch -eq 1 ]; then
  ref=''
  for r in "${BIGBIGAN_TORCH_REFERENCE:-}" "$root/../shared/bench/torch_reference.py" "$root/torch_reference.py" "$carry/torch_reference.py"; do
    if [ -n "$r" ] && [ -f "$r" ]; then ref=$r; break; fi
  done
  py=${PYTHON:-python3}
  if [ -z "$ref" ]; then torch_summary='skipped: no torch_reference.py (set BIGBIGAN_TORCH_REFERENCE)'
  elif ! command -v "$py" >/dev/null; then torch_summary="skipped: no $py"
  elif ! "$py" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then torch_summary="skipped: $py has no PyTorch with CUDA"
  else
    say "PyTorch bench32 on CUDA ($iters iterations)..."
    if limit "$py" "$ref" --device cuda --iters "$iters" --warmup 2 >"$logs/torch.json" 2>"$logs/torch.err"; then
      torch_summary=$("$node_bin" -e '
        const t = JSON.parse(process.argv[1].trim().split("\n").pop()), b = process.argv[2] ? JSON.parse(process.argv[2]) : null;
        console.log(`d_step ${t.d_step_ms} ms, eg_step ${t.eg_step_ms} ms, iter ${t.iter_ms} ms, ${t.img_per_s} img/s (torch ${t.torch})` +
                    (b ? `; ratio iter_ms ours/PyTorch ${(b.iter_ms / t.iter_ms).toFixed(2)}` : ""));
      ' "$(cat "$logs/torch.json")" "$bench_json")
    else
      torch_summary="FAILED: $(tail -1 "$logs/torch.err")"
    fi
  fi
  say "PyTorch: $torch_summary"
fi

summary="gpu-check $(date -u +%Y-%m-%dT%H:%MZ)
  machine:  $machine
  backend:  $backend_line
  bench32:  $bench_summary
  train:    $train_summary
  PyTorch:  $torch_summary
  logs:     $logs"
echo; echo "$summary" | tee "$logs/summary.txt"
[ $backend_ok -eq 0 ] && [ $bench_ok -eq 0 ] && [ $train_ok -eq 0 ]
