#!/usr/bin/env bash
# Prepare, on a connected machine, the wheels that tools/gpu_check.sh installs
# on a GPU machine that has a CUDA build of torch but no package index.
#
#   bash tools/misc/prepare_gpu_wheels.sh PYTHON_VERSION DIR [PKG==VER ...]
#
#   PYTHON_VERSION  the GPU machine's Python, e.g. 3.12 (`python3 --version`
#                   there; the device machine of this workplace has 3.12)
#   DIR             where the wheels go (created; e.g. build/gpu_wheels,
#                   which git ignores, so the device tool can `carry` it)
#   PKG==VER ...    extra wheels for a GPU machine that lacks more than the
#                   default set assumes (see below), e.g. einops==0.8.1
#
# What it fetches (about 9 MB; a check refuses more than 60 MB): mmengine,
# mmpretrain, mmdet, mmaction2 and the small dependencies they import that a
# torch image usually lacks (addict, yapf + platformdirs, termcolor,
# terminaltables, importlib-metadata + lazy-importer + zipp, modelindex +
# model-index + ordered-set, mat4py; tomli for Python < 3.11), and the two
# compiled ones mmdet's structures import (pycocotools, shapely; mmext's
# detection heads import those), setuptools 81 (the last with pkg_resources,
# which mmengine's Config needs), all downloaded with --no-deps for the
# target Python; and mmcv 2.1.0 *without* ops, built here from the PyPI sdist
# with MMCV_WITH_OPS=0 (PyPI has no such wheel; the result is the pure-Python
# mmcv_lite-2.1.0-py2.py3-none-any.whl, which imports as `mmcv` 2.1.0: mmext
# uses mmcv.cnn, which needs no ops; tools/gpu_check.sh adds a stand-in
# mmcv._ext so that mmdet's imports of mmcv.ops succeed).
#
# Deliberately not fetched, because the GPU machine this was written for
# (Python 3.12, torch 2.11 + CUDA 13, a scientific Python image) has them, or
# because the GPU check does not import them: torch, numpy, scipy,
# matplotlib, Pillow, PyYAML, rich, einops, six, tqdm, click, markdown,
# packaging, and OpenCV (mmcv imports cv2; opencv-python-headless is a 50 MB
# wheel); decord (mmaction2's video decoding). The check's `install` step
# names any module it cannot import; add its wheel as an extra PKG==VER
# argument. The wheels are for one Python version: for a rehearsal
# (tools/gpu_check.sh --dry-run) prepare a set for the local Python.
#
# Time: about 30 s (downloads plus a 3 s mmcv-lite build). Needs a local
# python3 (PYTHON=... to choose) with pip and venv; nothing is installed
# outside a temporary directory.
set -euo pipefail

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
case ${1:-} in -h|--help) usage; exit 0 ;; esac
[ $# -ge 2 ] || { usage >&2; exit 2; }
PYVER=$1 DIR=$2
shift 2
if ! [[ "$PYVER" =~ ^3\.[0-9]+$ ]]; then
  echo "PYTHON_VERSION must look like 3.12, got '$PYVER'" >&2; exit 2
fi
PY=${PYTHON:-python3}
MAX_MB=${MMEXT_GPU_WHEELS_MAX_MB:-60}
MMCV_VERSION=2.1.0
# Pinned to what .venv runs (tools/setup_env.sh), so the GPU check tests the
# same code as CI.
PKGS=(
  mmengine==0.10.7 mmpretrain==1.2.0 mmdet==3.3.0 mmaction2==1.2.0
  addict==2.4.0 yapf==0.43.0 platformdirs==4.14.8 termcolor==3.3.0
  terminaltables==3.1.10 importlib-metadata==10.2.0 lazy-importer==0.1.0
  zipp==4.1.2 modelindex==0.0.2 model-index==0.1.11 ordered-set==4.1.0
  mat4py==0.6.0 pycocotools==2.0.11 shapely==2.2.0
  # mmengine resolves `mmpretrain::` config paths with pkg_resources, which
  # setuptools 82 removed: this one shadows a newer one in the check only.
  setuptools==81.0.0
)
if [ "${PYVER#3.}" -lt 11 ]; then PKGS+=(tomli==2.0.1); fi
PKGS+=("$@")

mkdir -p "$DIR"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
log() { echo "[prepare_gpu_wheels] $*"; }

log "downloading ${#PKGS[@]} wheels for CPython $PYVER into $DIR"
"$PY" -m pip download -q --no-deps --only-binary=:all: \
  --python-version "$PYVER" --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_28_x86_64 \
  --platform any \
  -d "$DIR" "${PKGS[@]}"

if ! ls "$DIR"/mmcv_lite-$MMCV_VERSION-*.whl >/dev/null 2>&1; then
  log "building mmcv $MMCV_VERSION without ops (pure Python)"
  # mmcv's setup.py imports pkg_resources (gone in setuptools 82) and needs
  # bdist_wheel: a throw-away venv with the pinned build tools.
  "$PY" -m venv "$WORK/venv"
  "$WORK/venv/bin/python" -m pip install -q "setuptools>=77.0.3,<82" wheel
  "$WORK/venv/bin/python" -m pip download -q --no-deps --no-binary :all: \
    --no-build-isolation "mmcv==$MMCV_VERSION" -d "$WORK/sdist"
  MMCV_WITH_OPS=0 "$WORK/venv/bin/python" -m pip wheel -q --no-deps \
    --no-build-isolation -w "$WORK/wheel" "$WORK"/sdist/mmcv-$MMCV_VERSION.tar.gz
  WHEEL=$(ls "$WORK"/wheel/mmcv_lite-$MMCV_VERSION-*none-any.whl)
  if "$PY" -m zipfile -l "$WHEEL" | grep -q '\.so '; then
    echo "unexpected compiled file in $WHEEL" >&2; exit 1
  fi
  cp "$WHEEL" "$DIR/"
fi

# Two versions of one package would make the install step ambiguous.
DUPS=$(ls "$DIR"/*.whl | xargs -n1 basename | cut -d- -f1 | tr 'A-Z-' 'a-z_' \
  | sort | uniq -d)
if [ -n "$DUPS" ]; then
  echo "more than one wheel of: $DUPS (clean $DIR first)" >&2; exit 1
fi
KB=$(du -sk "$DIR" | cut -f1)
echo "$PYVER" > "$DIR/PYTHON_VERSION"
log "$(ls "$DIR"/*.whl | wc -l) wheels, $((KB / 1024)) MB in $DIR"
if [ "$KB" -gt $((MAX_MB * 1024)) ]; then
  echo "$DIR holds $((KB / 1024)) MB, more than $MAX_MB MB" >&2; exit 1
fi
