#!/usr/bin/env bash
# Installs the Debian packages the test suite needs beyond npm, and says what it installs.
#   - libopenblas-dev, libopenblas0-pthread, g++ : the native CPU backend (node-gyp addon over OpenBLAS)
#   - python3-torch                              : the PyTorch reference in bench/ (CPU)
#   - jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel : executing notebooks/
#   - jupyter-notebook                           : the live notebook-server test (test/notebook-browser.test.ts)
#   - chromium fonts-liberation                  : static PNG/SVG export of figures
#   - python3-jinja2 python3-regex               : reference chat-template renderer and BPE for the tokenizer tests
#   - mesa-vulkan-drivers (bookworm-backports)   : lavapipe, a CPU Vulkan driver for the WebGPU backend
# Idempotent: packages already present are skipped. Set IGRPO_SKIP_APT=1 to skip entirely.
set -euo pipefail
[ "${IGRPO_SKIP_APT:-0}" = 1 ] && { echo "setup-system: IGRPO_SKIP_APT=1, skipping apt"; exit 0; }

PKGS=(g++ make libopenblas-dev libopenblas0-pthread python3-torch
      jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel jupyter-notebook
      chromium fonts-liberation libvulkan1 python3-jinja2 python3-regex)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done

# Dawn rejects Debian 12's own lavapipe (Mesa 22.3); Mesa 25 from bookworm-backports works.
mesa_ok=0
v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
case "$v" in 2[4-9].*|3*) mesa_ok=1;; esac

if [ ${#missing[@]} -eq 0 ] && [ $mesa_ok = 1 ]; then echo "setup-system: all Debian packages present"; exit 0; fi

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
BACKPORTS=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$BACKPORTS" ]; then
  echo "setup-system: adding the bookworm-backports suite ($BACKPORTS)"
  src=/etc/apt/sources.list.d/debian.sources
  uri=$(awk '/^URIs:/{print $2; exit}' "$src" 2>/dev/null || echo http://deb.debian.org/debian)
  key=$(awk '/^Signed-By:/{print $2; exit}' "$src" 2>/dev/null || echo /usr/share/keyrings/debian-archive-keyring.gpg)
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' "$uri" "$key" | $SUDO tee "$BACKPORTS" >/dev/null
fi
echo "setup-system: installing ${missing[*]:-} mesa-vulkan-drivers/bookworm-backports"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get update -qq && \
       $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null && \
       $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null; }; then
  echo "setup-system: FAILED. Run by hand:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${PKGS[*]} && sudo apt-get install -y -t bookworm-backports mesa-vulkan-drivers" >&2
  exit 1
fi
echo "setup-system: done"
