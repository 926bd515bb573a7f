#!/usr/bin/env bash
# Prepares .device/kit: everything bench:gpu needs on a GPU machine that has PyTorch and NVIDIA's
# Vulkan driver but no Node.js and no network (the H100/H200 machines lent to this project).
#
#   bash scripts/package-device.sh            # builds .device/kit (about 35 MB; the carry limit is 64 MiB)
#   then, on the device (from the repository root, carrying .device/kit):
#   bash .device/kit/run.sh [bench:gpu options]   # default: d_model 128/512/1024 × T 64/256, both modes
#
# The kit holds: node (this machine's Node 20 binary, xz-compressed), bench-gpu.mjs (bench/gpu.ts and
# the src/ it imports, bundled by esbuild), dawn.node (the `webgpu` package's Dawn build, xz), Debian's
# libvulkan1 .deb (the H100 machines lack the Vulkan loader; the H200 has it), torch_gpt_cuda.py, a
# package.json naming the package (src/paths.ts finds its root by it) and run.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.device/kit
rm -rf "$KIT"
mkdir -p "$KIT"

echo "bundling bench/gpu.ts → $KIT/bench-gpu.mjs"
# tfjs-node(-gpu) and the native addon are optional backends bench:gpu never loads
node_modules/.bin/esbuild bench/gpu.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$KIT/bench-gpu.mjs" --log-level=warning \
  --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:'*.node' \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"

echo "compressing node $(node -v) and dawn.node"
xz -T0 -6 -c "$(command -v node)" > "$KIT/node.xz"
DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$DAWN" ] || { echo "missing $DAWN: run 'npm ci' first" >&2; exit 1; }
xz -T0 -6 -c "$DAWN" > "$KIT/dawn.node.xz"

echo "fetching Debian's libvulkan1 .deb"
( cd "$KIT" && apt-get download libvulkan1 >/dev/null ) || {
  echo "apt-get download libvulkan1 failed: run 'apt-get update' (or copy /var/cache/apt/archives/libvulkan1_*.deb into $KIT)" >&2
  exit 1
}

cp bench/torch_gpt_cuda.py bench/torch_gpt.py "$KIT/"
echo '{ "name": "igrpo-ts", "type": "module", "private": true }' > "$KIT/package.json"

cat > "$KIT/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs bench:gpu on this machine from the kit: unpacks node and Dawn, finds a Vulkan loader and
# NVIDIA's ICD, prints what it found, then the bench (results also under $OUT when set).
set -euo pipefail
KIT="$(cd "$(dirname "$0")" && pwd)"
WORK="${TMPDIR:-/tmp}/igrpo-kit"
mkdir -p "$WORK"
[ -x "$WORK/node" ] || { xz -dc "$KIT/node.xz" > "$WORK/node"; chmod +x "$WORK/node"; }
[ -f "$WORK/dawn.node" ] || xz -dc "$KIT/dawn.node.xz" > "$WORK/dawn.node"
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan.so.1 '; then
  echo "no system libvulkan.so.1: unpacking Debian's libvulkan1"
  dpkg -x "$KIT"/libvulkan1_*.deb "$WORK/vulkan"
  export LD_LIBRARY_PATH="$WORK/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
             /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/*.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; break; fi
  done
fi
echo "node $("$WORK/node" -v); VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-unset}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"
PY="${IGRPO_PYTHON:-$(command -v python3 || echo python3)}"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' || true
export IGRPO_ROOT="$KIT" IGRPO_DAWN_NODE="$WORK/dawn.node" IGRPO_PYTHON="$PY"
ARGS=("$@")
[ ${#ARGS[@]} -gt 0 ] || ARGS=(--sizes 128x64,128x256,512x64,512x256,1024x64,1024x256 --steps 10 --warmup 3)
set +e
"$WORK/node" "$KIT/bench-gpu.mjs" "${ARGS[@]}" 2> >(grep -v 'artificially reduced' >&2) | tee "${OUT:-$WORK}/bench-gpu.txt"
status=${PIPESTATUS[0]}
exit "$status"
RUN
chmod +x "$KIT/run.sh"

du -sh "$KIT"
ls -la "$KIT"
total=$(du -sb "$KIT" | cut -f1)
if [ "$total" -gt $((60 * 1024 * 1024)) ]; then echo "kit is $total bytes: over the 60 MiB safety margin of the 64 MiB carry limit" >&2; exit 1; fi
echo "kit ready: carry .device/kit and run 'bash .device/kit/run.sh' on the device (see bench/GPU.md)"
