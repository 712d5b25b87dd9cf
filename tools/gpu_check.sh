#!/usr/bin/env bash
# Check and time every CUDA kernel and GPU path of mmext in one run.
#
#   bash tools/gpu_check.sh [--dry-run] [--wheels DIR] [--no-install]
#                           [--budget SECONDS] OUT_DIR
#
# For a Linux x86-64 machine with an NVIDIA GPU, nvcc and a CUDA build of
# torch (>= 2.4, Python >= 3.10), and no package index. What such a machine
# lacks (mmengine, mmcv without ops, mmpretrain, mmdet, mmaction2, small
# pure-Python dependencies) comes as wheels prepared beforehand on a connected
# machine by `tools/misc/prepare_gpu_wheels.sh PYTHON_VERSION DIR`.
#
# Steps, each timed, its output in OUT_DIR/<step>.log; a failing step does not
# stop the others; OUT_DIR/summary.json comes last and names every failure:
#   install       wheels -> a temporary --target directory (never the system),
#                 mmaction2's drn import fix applied there, the sources copied
#                 to a temporary tree; prints the stack's versions and paths
#   build         mmext's extension for this torch and GPU (ninja, all cores,
#                 TORCH_CUDA_ARCH_LIST from torch.cuda.get_device_capability)
#   op_tests      tests/test_ops/test_cuda_ops.py: CUDA kernels vs CPU kernels
#                 vs pure-PyTorch references, gradcheck, autocast, compile
#   model_checks  tests/test_models/test_train_step_ops.py -k cuda: a training
#                 step of DAT-T, iSQRT-COV R50, So-ViT-7, ACmix-R26, GSoP R50
#                 with the compiled ops vs the pure-PyTorch fallbacks
#   bench_ops     tools/analysis_tools/benchmark_ops.py --device cuda
#                 (covariance op at 4 shapes, deformable sampling at DAT-T's)
#   bench_models  tools/analysis_tools/benchmark_train_throughput.py: DAT-T,
#                 iSQRT-COV R50, batch 64, AMP, ops vs fallbacks
# Exit status 0 when every step passed. Takes about 5-8 minutes on one GPU,
# mostly the CUDA build; --budget (default 540 s, 1800 s for --dry-run) caps
# the whole run, a step that would start after it is recorded as not run.
#
# Options:
#   --dry-run     rehearsal on a machine without a GPU: the same install
#                 (with the local Python), a CPU-only build, the GPU tests
#                 collected but not run, both benchmarks at toy sizes on the
#                 CPU. The CPU build is cached in $MMEXT_CACHE (default
#                 ~/.cache/mmext)/gpu_check_ext/, keyed by the sources, Python
#                 and torch, so a repeated rehearsal skips the compilation; a
#                 real run always builds.
#   --wheels DIR  the prepared wheels (default build/gpu_wheels, git-ignored)
#   --no-install  use the OpenMMLab stack the Python already has (no wheels;
#                 e.g. a developer's .venv)
#   --reuse-ext   copy the checkout's built extension (mmext/_ext*.so, same
#                 Python and torch) instead of compiling: for the test of the
#                 rehearsal (tests/test_tools/test_gpu_check.py), as the
#                 compilation takes 3 to 15 minutes on 2 shared cores
#   --steps "A B" run only these steps (names above), e.g. to repeat the
#                 benchmarks: --steps "install build bench_ops"
#   PYTHON=...    the interpreter (default python3)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DRY=0 INSTALL=1 REUSE_EXT=0 WHEELS=$ROOT/build/gpu_wheels BUDGET="" OUT=""
ALL_STEPS="install build op_tests model_checks bench_ops bench_models"
ONLY=$ALL_STEPS
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY=1 ;;
    --wheels) WHEELS=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --reuse-ext) REUSE_EXT=1 ;;
    --budget) BUDGET=$2; shift ;;
    --steps) ONLY=$2; shift ;;
    -h|--help) sed -n '2,50p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$OUT" ] || { echo "one OUT_DIR only" >&2; exit 2; }; OUT=$1 ;;
  esac
  shift
done
[ -n "$OUT" ] || { echo "usage: bash tools/gpu_check.sh [--dry-run] OUT_DIR" >&2; exit 2; }
[ -n "$BUDGET" ] || BUDGET=$([ "$DRY" = 1 ] && echo 1800 || echo 540)
# seconds each step may take at most (the --budget caps the sum)
declare -A LIMIT=([install]=180 [build]=360 [op_tests]=240
                  [model_checks]=240 [bench_ops]=180 [bench_models]=180)
[ "$DRY" = 0 ] || LIMIT[build]=900  # 2 CPU cores, no cached build
for name in $ONLY; do
  [ -n "${LIMIT[$name]:-}" ] || { echo "unknown step $name (steps: $ALL_STEPS)" >&2; exit 2; }
done
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
case $WHEELS in /*) ;; *) WHEELS=$(pwd)/$WHEELS ;; esac
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || { echo "no Python '$PY'" >&2; exit 2; }
PY=$(command -v "$PY")
# absolute, without resolving a venv's link (the steps change directory)
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mmext_gpu_check.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SITE=$TMP/site SRC=$TMP/src STEPS=$TMP/steps.tsv
: > "$STEPS"
for name in $ALL_STEPS summary; do rm -f "$OUT/$name.log"; done
rm -f "$OUT/summary.json"
export PY SITE SRC ROOT DRY INSTALL REUSE_EXT WHEELS OUT
export PYTHONPATH="$SRC:$SITE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
NPROC=$(nproc 2>/dev/null || echo 2)
if [ "$DRY" = 1 ]; then
  export CUDA_VISIBLE_DEVICES='' FORCE_CUDA=0
  export MAX_JOBS=${MAX_JOBS:-2} OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
else
  # tests/conftest.py hides GPUs unless CUDA_VISIBLE_DEVICES is set.
  export CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-0}
  export MMEXT_REQUIRE_CUDA_EXT=1 MAX_JOBS=${MAX_JOBS:-$NPROC}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( NPROC < 16 ? NPROC : 16 ))}
fi
START=$(date +%s)

# ----------------------------------------------------------------- steps
step_install() {
  echo "python: $PY ($("$PY" -V 2>&1)); dry run: $DRY"
  "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
  [ "$DRY" = 1 ] || nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  command -v nvcc >/dev/null && nvcc --version | tail -n 2
  mkdir -p "$SITE" "$SRC"
  # A private copy of the sources: the build writes mmext/_ext*.so into it,
  # never into the checkout.
  (cd "$ROOT" && tar -cf - --exclude='__pycache__' --exclude='mmext/_ext*.so' \
     --exclude='mmext/.mim' mmext tests tools configs setup.py pyproject.toml \
     pytest.ini README.md requirements model-index.yml) | tar -xf - -C "$SRC" || return 1
  if [ "$INSTALL" = 1 ]; then
    ls "$WHEELS"/*.whl >/dev/null 2>&1 || {
      echo "no wheels in $WHEELS: run tools/misc/prepare_gpu_wheels.sh first"; return 1; }
    if [ -f "$WHEELS/PYTHON_VERSION" ]; then
      want=$(cat "$WHEELS/PYTHON_VERSION")
      have=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
      [ "$want" = "$have" ] || echo "warning: wheels prepared for Python $want, running $have"
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
      --disable-pip-version-check --target "$SITE" "$WHEELS"/*.whl || return 1
    ls "$SITE"
    "$PY" "$ROOT/tools/misc/patch_site_packages.py" || return 1
    for dep in "$SITE"/{mmpretrain,mmaction}/utils/dependency.py; do
      if [ -f "$dep" ] && grep -q '^WITH_MULTIMODAL = all(' "$dep"; then
        # With pycocotools and transformers installed mmpretrain (BLIP, ...)
        # and mmaction2 (VindLU; imported by mmext's TCP head) import
        # multimodal models that use helpers transformers 5 removed; this
        # check uses none of them.
        sed -i 's/^WITH_MULTIMODAL = all(/WITH_MULTIMODAL = False and all(/' "$dep"
        echo "multimodal models off in $dep"
      fi
    done
    if [ -d "$SITE/mmcv" ] && ! "$PY" -c 'import mmcv._ext' 2>/dev/null; then
      # mmcv-lite: mmdet (imported by mmext's detection heads) imports
      # mmcv.ops at import time, which loads mmcv._ext. A stand-in whose
      # every function raises lets those imports succeed; nothing in this
      # check calls an mmcv op.
      echo "mmcv without ops: stand-in $SITE/mmcv/_ext.py"
      cat > "$SITE/mmcv/_ext.py" <<'PYEOF'
def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)

    def missing(*args, **kwargs):
        raise RuntimeError(f'mmcv op {name}: mmcv-lite has no compiled ops')

    return missing
PYEOF
    fi
  fi
  "$PY" - <<'EOF'
import importlib, os, sys
missing = []
for name in ('numpy', 'scipy', 'matplotlib', 'cv2', 'PIL', 'yaml', 'rich',
             'einops', 'pytest', 'mmengine', 'mmcv', 'mmpretrain', 'mmdet',
             'mmaction'):
    try:
        mod = importlib.import_module(name)
        print(f'{name:<12}{getattr(mod, "__version__", "?"):<12}'
              f'{os.path.dirname(mod.__file__)}')
    except Exception as e:  # noqa: BLE001  (report every missing module)
        missing.append(f'{name} ({type(e).__name__}: {e})')
for name in ('mmcv.ops', 'mmpretrain.models', 'mmdet.models',
             'mmaction.models', 'mmext'):
    try:
        importlib.import_module(name)
    except Exception as e:  # noqa: BLE001
        missing.append(f'{name} ({type(e).__name__}: {e})')
if missing:
    print('cannot import:', *missing, sep='\n  ')
    print('add the missing wheels: tools/misc/prepare_gpu_wheels.sh '
          'PYTHON_VERSION DIR PKG==VERSION ...')
    sys.exit(1)
EOF
}

step_build() {
  cd "$SRC" || return 1
  if [ "$DRY" = 0 ]; then
    arch=$("$PY" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())') || return 1
    export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$arch
    if [ -z "${CUDA_HOME:-}" ]; then
      # nvcc on PATH can be a link whose parent is not the toolkit root.
      for d in /usr/local/cuda "$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"; do
        [ -x "$d/bin/nvcc" ] && { export CUDA_HOME=$d; break; }
      done
    fi
    echo "TORCH_CUDA_ARCH_LIST=$arch CUDA_HOME=${CUDA_HOME:-?} MAX_JOBS=$MAX_JOBS"
  fi
  # torch compiles in parallel only with the ninja executable on PATH.
  PATH=$(dirname "$PY"):$PATH
  if ! command -v ninja >/dev/null; then
    nbin=$("$PY" -c 'import ninja; print(ninja.BIN_DIR)' 2>/dev/null) && PATH=$nbin:$PATH
  fi
  echo "ninja: $(command -v ninja || echo 'not found: serial build')"
  key=$( (cat setup.py; find mmext/ops/csrc -type f | sort | xargs cat;
          "$PY" -c 'import sys, torch; print(sys.version, torch.__version__)';
          echo "$DRY ${TORCH_CUDA_ARCH_LIST:-}") | sha256sum | cut -c1-16)
  cache=${MMEXT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmext}/gpu_check_ext/$key
  if [ "$REUSE_EXT" = 1 ]; then
    so=$(ls "$ROOT"/mmext/_ext*.so 2>/dev/null | head -n 1)
    [ -n "$so" ] || { echo "--reuse-ext: no mmext/_ext*.so in $ROOT"; return 1; }
    echo "--reuse-ext: copying $so (not compiled)"
    cp "$so" mmext/ || return 1
  elif [ "$DRY" = 1 ] && ls "$cache"/_ext*.so >/dev/null 2>&1; then
    echo "reusing the CPU build in $cache (same sources, Python and torch)"
    cp "$cache"/_ext*.so mmext/ || return 1
  else
    "$PY" setup.py -q build_ext --inplace || return 1
    if [ "$DRY" = 1 ]; then
      mkdir -p "$cache.partial.$$" && cp mmext/_ext*.so "$cache.partial.$$/" &&
        rm -rf "$cache" && mv "$cache.partial.$$" "$cache"
    fi
  fi
  "$PY" -c '
import os, sys
import mmext, mmext._ext
from mmext.ops import ext_available, ext_with_cuda
print("mmext from", os.path.dirname(mmext.__file__))
print("extension", mmext._ext.__file__, "with CUDA:", ext_with_cuda())
assert mmext.__file__.startswith(os.environ["SRC"]), "mmext not from the copy"
assert ext_available()
if os.environ["DRY"] == "0":
    assert ext_with_cuda(), "extension built without its CUDA kernels"
'
}

pytest_step() {
  cd "$SRC" || return 1
  if [ "$DRY" = 1 ]; then
    "$PY" -m pytest -p no:cacheprovider --collect-only -q "$@"
  else
    "$PY" -m pytest -p no:cacheprovider -q -rfEs --durations=10 "$@"
  fi
}
step_op_tests() { pytest_step tests/test_ops/test_cuda_ops.py; }
step_model_checks() { pytest_step tests/test_models/test_train_step_ops.py -k cuda; }

step_bench_ops() {
  cd "$SRC" || return 1
  if [ "$DRY" = 1 ]; then
    "$PY" tools/analysis_tools/benchmark_ops.py --device cpu --repeat 1 \
      --ops cov_sqrt deform_sample --cov-shape 2 8 20 3 --deform-batch 1 \
      --no-deform-model
  else
    "$PY" tools/analysis_tools/benchmark_ops.py --device cuda --repeat 20 \
      --ops cov_sqrt deform_sample --cov-shape 32 256 196 5 \
      --cov-shape 32 128 784 3 --cov-shape 8 64 3136 3 \
      --cov-shape 256 256 196 5 --deform-batch 32 --no-deform-model
  fi
}

step_bench_models() {
  cd "$SRC" || return 1
  if [ "$DRY" = 1 ]; then
    "$PY" tools/analysis_tools/benchmark_train_throughput.py --device cpu \
      --batch 1 --size 64 --steps 1 --warmup 0 --rounds 1
  else
    "$PY" tools/analysis_tools/benchmark_train_throughput.py --device cuda \
      --batch 64 --size 224 --steps 10 --warmup 3 --rounds 2
  fi
}
export -f step_install step_build pytest_step step_op_tests \
  step_model_checks step_bench_ops step_bench_models

# run_step NAME LIMIT_S: run step_NAME with its output in OUT/NAME.log
run_step() {
  local name=$1 limit=$2 now left rc t0 t1
  now=$(date +%s); left=$(( START + BUDGET - now - 5 ))
  if [ "$left" -lt 20 ]; then
    echo "== [$name] not run: the ${BUDGET}s budget is spent"
    echo "not run: budget spent" > "$OUT/$name.log"
    printf '%s\t%s\t%s\n' "$name" -1 0 >> "$STEPS"; return
  fi
  [ "$limit" -le "$left" ] || limit=$left
  echo "== [$name] started (limit ${limit}s)"
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$limit" bash -c "step_$name" > "$OUT/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  local secs; secs=$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")
  printf '%s\t%s\t%s\n' "$name" "$rc" "$secs" >> "$STEPS"
  echo "== [$name] $([ $rc = 0 ] && echo ok || echo "FAILED (rc $rc)") in ${secs}s (elapsed $(( $(date +%s) - START ))s)"
  [ $rc = 0 ] || tail -n 15 "$OUT/$name.log" | sed 's/^/   | /'
}

for name in $ALL_STEPS; do
  case " $ONLY " in *" $name "*) run_step "$name" "${LIMIT[$name]}" ;; esac
done

"$PY" - "$STEPS" "$OUT" "$DRY" "$START" <<'EOF'
import json, os, re, subprocess, sys, time
steps_file, out, dry, start = sys.argv[1], sys.argv[2], sys.argv[3] == '1', \
    float(sys.argv[4])
env = {}
try:
    env = json.loads(subprocess.run(
        [sys.executable, '-c', 'import json, sys, torch; print(json.dumps(dict('
         'python=sys.version.split()[0], torch=torch.__version__, '
         'cuda=torch.version.cuda, gpu=torch.cuda.get_device_name() '
         'if torch.cuda.is_available() else None)))'],
        capture_output=True, text=True, timeout=120).stdout)
except Exception as e:  # noqa: BLE001
    env = dict(error=str(e))
steps, failures, missed = [], [], []
for line in open(steps_file):
    name, rc, secs = line.rstrip('\n').split('\t')
    rc, log = int(rc), os.path.join(out, name + '.log')
    text = open(log, errors='replace').read() if os.path.exists(log) else ''
    steps.append(dict(step=name, rc=rc, seconds=float(secs),
                      log=os.path.basename(log)))
    missed += [f'{name}: {m.strip()}' for m in text.splitlines()
               if m.rstrip().endswith('MISSED')]
    if rc != 0:
        reason = {-1: 'not run (budget spent)', 124: 'timed out',
                  137: 'killed (timeout or memory)'}.get(rc, f'exit {rc}')
        tests = re.findall(r'^(?:FAILED|ERROR) (\S+)', text, re.M)
        failures.append(dict(step=name, reason=reason, failed_tests=tests,
                             tail=text.splitlines()[-20:]))
summary = dict(dry_run=dry, passed=not failures,
               total_seconds=round(time.time() - start, 1), environment=env,
               steps=steps, failures=failures, targets_missed=missed)
with open(os.path.join(out, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=1)
print(f'\n{"step":<14}{"rc":>4}{"seconds":>9}')
for s in steps:
    print(f'{s["step"]:<14}{s["rc"]:>4}{s["seconds"]:>9.1f}')
print(f'total {summary["total_seconds"]:.0f}s; environment: {env}')
for f in failures:
    print(f'FAILED step {f["step"]}: {f["reason"]}',
          *[f'  {t}' for t in f['failed_tests']], sep='\n')
for m in missed:
    print(f'target missed: {m}')
print(f'summary: {os.path.join(out, "summary.json")}')
sys.exit(0 if not failures else 1)
EOF
