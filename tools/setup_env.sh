#!/usr/bin/env bash
# Create (or reuse) .venv/ with the whole mmext stack. Idempotent: a second run
# on the same machine only checks what is installed.
#
# The one slow step is mmcv 2.1.0 with compiled ops (~25 min on 2 cores): the
# wheel is cached outside the repository in $MMEXT_CACHE (default
# ~/.cache/mmext), keyed by mmcv, torch and Python versions.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${MMEXT_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
CACHE=${MMEXT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmext}
MMCV_VERSION=2.1.0
TORCH_VERSION=2.14.1
log() { echo "[setup_env] $*"; }

[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PY" -m venv "$VENV"; }
PIP=("$VENV/bin/python" -m pip)
STAMP="$VENV/.mmext-stamp"
# Re-run when requirements, this script, setup.py or the C++/CUDA sources change.
HASH=$(cat requirements/*.txt tools/setup_env.sh tools/misc/patch_site_packages.py setup.py pyproject.toml \
  $(find mmext/ops/csrc -type f 2>/dev/null | sort) | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
  log "environment up to date ($VENV)"; exit 0
fi

"${PIP[@]}" install -q -r requirements/build.txt
"${PIP[@]}" install -q -r requirements/runtime.txt

# ---- mmcv with ops, built once per (mmcv, torch, python) ----
PYTAG=$("$VENV/bin/python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
WHEELDIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PYTAG"
if ! ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
  log "building mmcv $MMCV_VERSION with ops (about 25 minutes on 2 cores)"
  BUILD=$(mktemp -d)
  "${PIP[@]}" download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD"
  tar -xzf "$BUILD"/mmcv-*.tar.gz -C "$BUILD"
  SRC=$(ls -d "$BUILD"/mmcv-$MMCV_VERSION)
  # torch >= 2.13 headers require C++20; mmcv 2.1.0 hard-codes c++14/17.
  sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
  mkdir -p "$WHEELDIR.partial"
  (cd "$SRC" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} \
    "${PIP[@]}" wheel -q --no-build-isolation --no-deps -w "$WHEELDIR.partial" .)
  # Publish the cache entry atomically so an interrupted build is never reused.
  rm -rf "$WHEELDIR"; mv "$WHEELDIR.partial" "$WHEELDIR"; rm -rf "$BUILD"
fi
"${PIP[@]}" install -q --no-deps "$WHEELDIR"/mmcv-*.whl
# mmcv's own runtime deps (it was installed with --no-deps).
"${PIP[@]}" install -q addict packaging pyyaml yapf opencv-python

"${PIP[@]}" install -q -r requirements/mminstall.txt -r requirements/optional.txt -r requirements/tests.txt
# mmaction2 pulls opencv-contrib-python, mmengine opencv-python; both ship cv2/
# and overwrite each other. Keep exactly one.
"${PIP[@]}" uninstall -q -y opencv-contrib-python opencv-python-headless 2>/dev/null || true
"${PIP[@]}" install -q --force-reinstall --no-deps opencv-python

# ---- fixes to installed packages' files (idempotent) ----
"$VENV/bin/python" tools/misc/patch_site_packages.py

# mmext itself, editable, with its compiled ops. Where nvcc is installed the
# CUDA kernels are compiled and linked too (they run only on a GPU machine).
if [ -z "${CUDA_HOME:-}" ] && [ -f /usr/local/cuda/lib64/libcudart.so ]; then
  export CUDA_HOME=/usr/local/cuda
fi
if [ -n "${CUDA_HOME:-}" ] && [ -x "$CUDA_HOME/bin/nvcc" ]; then
  export FORCE_CUDA=${FORCE_CUDA:-1} TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
fi
MAX_JOBS=${MAX_JOBS:-2} "${PIP[@]}" install -q --no-build-isolation --no-deps -e .
# mim finds a package at <distribution location>/<package>; an editable
# install has no such directory, so link site-packages/mmext to the sources.
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[ -e "$SITE/mmext" ] || ln -s "$ROOT/mmext" "$SITE/mmext"
"$VENV/bin/python" -c "from mmcv.ops import nms, roi_align; import mmdet, mmpretrain, mmaction, mmext; print('stack OK')"
echo "$HASH" > "$STAMP"
log "done"
