#!/usr/bin/env bash
# Prepares the device kit: everything the GPU check (bench/gpu_llm.ts, issue 20: Qwen2.5-0.5B-shape LoRA
# update and group sampling on webgpu against PyTorch-CUDA fp32/bf16, then the tiny GPT's bench:gpu)
# needs on a lent GPU machine that has PyTorch and NVIDIA's driver but no Node.js and no network
# (/work/.library/device/KINDS.md: "a plain 'python3' there is the one that holds PyTorch"; nothing can
# be fetched there). bench/GPU.md says how to run it there.
#
#   bash scripts/package-device.sh                 # builds .device/kit (~36 MB; the call carries 64 MiB at most)
#   bash scripts/package-device.sh --out DIR --fast   # elsewhere, xz -0 (seconds instead of ~1 min; ~44 MB): tests
#   then, from the repository root (on the device through the run tool, carrying .device/kit):
#   bash .device/kit/run.sh [--dry-run] [--budget S]
#
# The kit holds: node.xz (this machine's Node binary, one self-contained file but for glibc/libstdc++),
# gpu-llm.mjs and bench-gpu.mjs (bench/gpu_llm.ts, bench/gpu.ts and the src/ they import, bundled by
# esbuild: no node_modules), dawn.node.xz (the `webgpu` package's Dawn build), Debian's libvulkan1 .deb
# (a Vulkan loader, unpacked only where the machine has none), torch_llama_gpu.py, torch_gpt_cuda.py +
# torch_gpt.py, a package.json naming the package (src/paths.ts finds its root by it), kit.json (the
# commit it was built from) and run.sh. No model weights: the GPU check generates them on the device.
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.device/kit
LEVEL=6
while [ $# -gt 0 ]; do
  case "$1" in
    --out) KIT="$2"; shift 2 ;;
    --fast) LEVEL=0; shift ;;
    *) echo "package-device.sh: unknown option '$1' (--out DIR, --fast)" >&2; exit 2 ;;
  esac
done
[ -d node_modules/webgpu ] || { echo "package-device.sh: node_modules/webgpu is missing: run 'npm ci' first" >&2; exit 1; }
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || { echo "package-device.sh: missing $DAWN (the webgpu package's install step must have run)" >&2; exit 1; }
case "$KIT" in /*|.device/*) ;; *) echo "package-device.sh: --out must be an absolute path or under .device/ (got '$KIT')" >&2; exit 2 ;; esac
if [ -d "$KIT" ] && [ -n "$(ls -A "$KIT")" ] && [ ! -f "$KIT/kit.json" ] && [ ! -f "$KIT/run.sh" ]; then
  echo "package-device.sh: $KIT holds files that are not a kit: not deleting them" >&2; exit 1
fi
rm -rf "$KIT"
mkdir -p "$KIT"
t0=$(date +%s)

echo "bundling bench/gpu_llm.ts → gpu-llm.mjs and bench/gpu.ts → bench-gpu.mjs"
# tfjs-node(-gpu) and the native addon are optional backends these benches never load
node_modules/.bin/esbuild gpu-llm=bench/gpu_llm.ts bench-gpu=bench/gpu.ts --bundle --platform=node --format=esm --target=node20 \
  --outdir="$KIT" --out-extension:.js=.mjs --log-level=warning \
  --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:'*.node' \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"

echo "compressing node $(node -v) and dawn.node (xz -$LEVEL)"
xz -T0 -"$LEVEL" -c "$(command -v node)" > "$KIT/node.xz"
xz -T0 -"$LEVEL" -c "$DAWN" > "$KIT/dawn.node.xz"

echo "fetching Debian's libvulkan1 .deb (the Vulkan loader, for a machine without one)"
deb=$(ls /var/cache/apt/archives/libvulkan1_*_amd64.deb 2>/dev/null | head -1 || true)
if [ -n "$deb" ]; then cp "$deb" "$KIT/"
elif ! ( cd "$KIT" && apt-get download libvulkan1 >/dev/null 2>&1 ); then
  if [ "$LEVEL" = 0 ]; then echo "  (apt-get download libvulkan1 failed: this --fast kit has no loader of its own)" >&2
  else echo "package-device.sh: apt-get download libvulkan1 failed: run 'apt-get update' (or copy a libvulkan1_*_amd64.deb into /var/cache/apt/archives)" >&2; exit 1
  fi
fi

cp bench/torch_llama_gpu.py bench/torch_gpt_cuda.py bench/torch_gpt.py "$KIT/"
echo '{ "name": "igrpo-ts", "type": "module", "private": true }' > "$KIT/package.json"
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo true || echo false)
printf '{ "commit": "%s", "dirty": %s, "built": "%s", "node": "%s", "xz_level": %s }\n' "$commit" "$dirty" "$(date -u +%FT%TZ)" "$(node -v)" "$LEVEL" > "$KIT/kit.json"

cat > "$KIT/run.sh" <<'RUN'
#!/usr/bin/env bash
# The GPU check from the kit (scripts/package-device.sh; bench/GPU.md): unpacks node and Dawn, finds a
# Vulkan loader and NVIDIA's ICD, then bench/gpu_llm.ts under a hard time budget. Everything printed is
# also in $OUT/kit.log; the result line in $OUT/gpu-llm.json (rewritten after every part), the tiny
# GPT's table in $OUT/bench-gpu.txt. Without $OUT they go to $TMPDIR/igrpo-kit/out.
#   bash run.sh [--dry-run] [--budget S] [other bench/gpu_llm.ts options]
#   --dry-run: the whole path at a small shape (lavapipe, PyTorch on the CPU); default budget 240 s
#   --budget S: seconds from this script's start to the last result (default 300)
set -uo pipefail
START_MS=$(date +%s%3N)
KIT="$(cd "$(dirname "$0")" && pwd)"
WORK="${TMPDIR:-/tmp}/igrpo-kit"
OUTDIR="${OUT:-$WORK/out}"
mkdir -p "$WORK" "$OUTDIR"
exec > >(tee -a "$OUTDIR/kit.log") 2>&1
BUDGET=300
for a in "$@"; do [ "$a" = --dry-run ] && BUDGET=240; done
prev=""
for a in "$@"; do [ "$prev" = --budget ] && BUDGET="$a"; prev="$a"; done
case "$BUDGET" in ''|*[!0-9]*) echo "run.sh: --budget needs whole seconds (got '$BUDGET')"; exit 2 ;; esac

# unpack once per kit build (kit.json changes with every build); Python's lzma where xz is missing
unxz() {
  if command -v xz >/dev/null; then xz -dc "$1" > "$2"
  else "${IGRPO_PYTHON:-python3}" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; fi
}
STAMP="$WORK/unpacked.json"
if ! cmp -s "$KIT/kit.json" "$STAMP" || [ ! -x "$WORK/node" ] || [ ! -f "$WORK/dawn.node" ]; then
  t=$(date +%s%3N)
  unxz "$KIT/node.xz" "$WORK/node" && chmod +x "$WORK/node" && unxz "$KIT/dawn.node.xz" "$WORK/dawn.node" \
    || { echo "run.sh: unpacking node/dawn.node into $WORK failed"; exit 1; }
  cp "$KIT/kit.json" "$STAMP"
  echo "unpacked node and dawn.node in $(( $(date +%s%3N) - t )) ms"
fi
if [ "${IGRPO_KIT_FORCE_VULKAN_DEB:-}" = 1 ] || ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
  deb=$(ls "$KIT"/libvulkan1_*.deb 2>/dev/null | head -1)
  if [ -n "$deb" ]; then
    rm -rf "$WORK/vulkan" && dpkg -x "$deb" "$WORK/vulkan"
    export LD_LIBRARY_PATH="$WORK/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export IGRPO_VULKAN_LOADER="$(basename "$deb") unpacked in $WORK/vulkan"
  else
    echo "run.sh: no libvulkan.so.1 on this machine and no libvulkan1 .deb in the kit: webgpu will not start"
  fi
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  # NVIDIA's ICD: the device README names /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
             /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/*.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; break; fi
  done
fi
# the ICD names its library bare (libGLX_nvidia.so.0): let dlopen also look in the driver's own folders
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$d"
done
PY="${IGRPO_PYTHON:-$(command -v python3 || echo python3)}"
echo "node $("$WORK/node" -v); python $PY; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}; loader ${IGRPO_VULKAN_LOADER:-system}; budget ${BUDGET} s; out $OUTDIR"
export IGRPO_ROOT="$KIT" IGRPO_DAWN_NODE="$WORK/dawn.node" IGRPO_PYTHON="$PY" PYTHONUNBUFFERED=1
# the orchestrator stops itself inside the budget; this is the backstop (SIGTERM: it writes what it has)
# one pipe for both streams keeps their order (the result line last); Dawn's two limit warnings are noise
timeout -k 5 $((BUDGET + 15)) "$WORK/node" "$KIT/gpu-llm.mjs" --started-at "$START_MS" --budget "$BUDGET" --out "$OUTDIR" --python "$PY" "$@" 2>&1 \
  | grep --line-buffered -v 'artificially reduced'
status=${PIPESTATUS[0]}
# the result line stays the last line printed: this note goes to kit.log alone, and a run killed by the backstop reprints the saved line
echo "run.sh: $(( ($(date +%s%3N) - START_MS) / 1000 )) s in all, exit status $status; files in $OUTDIR: $(ls "$OUTDIR" | tr '\n' ' ')" >> "$OUTDIR/kit.log"
if [ "$status" = 124 ] || [ "$status" = 137 ]; then tail -n 1 "$OUTDIR/gpu-llm.json" 2>/dev/null; fi
exit "$status"
RUN
chmod +x "$KIT/run.sh"

ls -la "$KIT"
total=$(du -sb "$KIT" | cut -f1)
echo "kit: $((total / 1024 / 1024)) MiB in $(( $(date +%s) - t0 )) s"
if [ "$total" -gt $((60 * 1024 * 1024)) ]; then echo "package-device.sh: the kit is $total bytes, over 60 MiB (the call carries 64 MiB with the working tree)" >&2; exit 1; fi
echo "kit ready in $KIT: carry it and run 'bash $KIT/run.sh' on the device (bench/GPU.md)"
