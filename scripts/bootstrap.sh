#!/usr/bin/env bash
# scripts/bootstrap.sh -- create ./.venv and install the verified CPU stack.
#
#   bash scripts/bootstrap.sh            # from any directory
#   bash scripts/bootstrap.sh --force    # ignore the stamp, re-check every step
#   bash scripts/bootstrap.sh -v         # show pip's normal output
#
# Idempotent: every step is skipped when it is already satisfied, and when the
# stamp file .venv/.uniformer_mm-bootstrap holds the hash of this script, of
# requirements/*.txt, setup.py and pyproject.toml, nothing at all is done.
#
# Order matters (the reasons: docs/en/get_started.md, "What scripts/bootstrap.sh does"):
#   pip -> torch (CPU, alone) -> build tools + mmengine -> mmcv with ops
#   -> mmdet + mmseg -> mmpose + mmaction2 (--no-deps) + xtcocotools (built)
#   -> this project (editable) -> import sanity check.
#
# Environment knobs:
#   PYTHON                          interpreter for the venv (default python3)
#   UNIFORMER_MM_WHEELHOUSE         per-machine cache of built mmcv wheels
#                                   (default ~/.cache/uniformer_mm/wheelhouse)
#   UNIFORMER_MM_NO_CONSTRAINTS=1   do not apply requirements/constraints.txt
#   UNIFORMER_MM_BOOTSTRAP_FORCE=1  same as --force
#   UNIFORMER_MM_BOOTSTRAP_VERBOSE=1  same as -v
#   MAX_JOBS                        parallel compile jobs for mmcv (default 2)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
SELF="$REPO/scripts/$(basename "${BASH_SOURCE[0]}")"
cd "$REPO"

REQ="$REPO/requirements"
VENV="$REPO/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.uniformer_mm-bootstrap"
PYTHON="${PYTHON:-python3}"
CACHE_ROOT="${UNIFORMER_MM_WHEELHOUSE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/uniformer_mm/wheelhouse}"
SHARED_WHEELHOUSE="$REPO/../shared/wheelhouse"
# The prebuilt mmcv wheel in ../shared/wheelhouse links against exactly this torch.
SHARED_WHEEL_TORCH="2.13.0"
FORCE="${UNIFORMER_MM_BOOTSTRAP_FORCE:-0}"
VERBOSE="${UNIFORMER_MM_BOOTSTRAP_VERBOSE:-0}"
NO_CONSTRAINTS="${UNIFORMER_MM_NO_CONSTRAINTS:-0}"

for arg in "$@"; do
    case "$arg" in
        -f|--force) FORCE=1 ;;
        -v|--verbose) VERBOSE=1 ;;
        -h|--help) sed -n '2,24p' "$SELF"; exit 0 ;;
        *) echo "bootstrap: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1

# ---------------------------------------------------------------- helpers --
STEP="start"
T0=$SECONDS
TMP_DIRS=()
on_exit() {
    local rc=$?
    local d
    for d in ${TMP_DIRS[@]+"${TMP_DIRS[@]}"}; do rm -rf "$d"; done
    if [ "$rc" -ne 0 ]; then
        echo "bootstrap: FAILED during step: $STEP (exit $rc)" >&2
        echo "bootstrap: re-run with -v for pip's full output" >&2
    fi
}
trap on_exit EXIT

say()  { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die()  { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

# Output filter for pip:
#  - pip prints one "WARNING: Location '...' is ignored" line for every name the
#    machine's local file:// extra index does not carry: dropped.
#  - the dependency conflicts this stack has on purpose are dropped: torch 2.13
#    declares setuptools>=77 (we keep <70 for the mmcv build), mmpose declares
#    chumpy/torchvision and mmaction2 decord/opencv-contrib-python (installed
#    with --no-deps).  Any other conflict is printed with pip's header.
_filter_pip() {
    local line hdr="" in_conflicts=0
    local expected='^(torch|mmpose|mmaction2) [^ ]+ requires (setuptools|chumpy|torchvision|decord|opencv-contrib-python)'
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in
            "WARNING: Location '"*"' is ignored"*) continue ;;
            "ERROR: pip's dependency resolver does not currently take into account"*)
                hdr="$line"; in_conflicts=1; continue ;;
        esac
        if [ "$in_conflicts" = 1 ]; then
            [[ "$line" =~ $expected ]] && continue
            if [ -n "$hdr" ]; then printf '%s\n' "$hdr"; hdr=""; fi
        fi
        printf '%s\n' "$line"
    done
}

# pip_ ARGS...: run the venv's pip quietly (unless -v), filtered, keeping pip's exit status.
pip_() {
    local quiet=(-q)
    [ "$VERBOSE" = 1 ] && quiet=()
    local rc=0
    "$PY" -m pip "$@" ${quiet[@]+"${quiet[@]}"} 2>&1 | _filter_pip || rc=$?
    return "$rc"
}
# pip_loud ARGS...: same, never quiet (long builds: pip prints a heartbeat).
pip_loud() {
    local rc=0
    "$PY" -m pip "$@" 2>&1 | _filter_pip || rc=$?
    return "$rc"
}

CONSTRAINTS=()
if [ "$NO_CONSTRAINTS" != 1 ] && [ -f "$REQ/constraints.txt" ]; then
    CONSTRAINTS=(-c "$REQ/constraints.txt")
fi

# pin_of FILE NAME: the X of a "NAME==X" line in FILE
pin_of() { sed -n -e "s/^[[:space:]]*$2[[:space:]]*==[[:space:]]*\([^[:space:];#]*\).*/\1/p" "$1" | head -n1; }
# names_of FILE: requirement names listed in FILE (comments and specifiers stripped)
names_of() { sed -e 's/#.*//' -e 's/[<>=!~;[:space:]\[].*//' "$1" | grep -v '^$' || true; }
# dist_version NAME: installed version of a distribution in the venv, or empty
dist_version() {
    "$PY" -I -c 'import sys, importlib.metadata as m
try: print(m.version(sys.argv[1]))
except m.PackageNotFoundError: pass' "$1"
}

STEP_T=0
step() { STEP="$1"; STEP_T=$SECONDS; say "$1"; }
done_step() { note "done ($((SECONDS - STEP_T))s)"; }

# --------------------------------------------------------------- the venv --
[ -d "$REQ" ] || die "missing $REQ"

STEP="venv"
if [ ! -x "$PY" ]; then
    [ -e "$VENV" ] && die "$VENV exists but has no bin/python: remove it (make clean-venv) and re-run"
    command -v "$PYTHON" >/dev/null || die "no '$PYTHON' on PATH (set PYTHON=/path/to/python3.11)"
    say "creating .venv with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
fi
"$PY" -c 'import sys' 2>/dev/null || die "$PY does not run (venv moved or its Python removed?): make clean-venv, then re-run"

# One bootstrap at a time per checkout (e.g. `make -j test test-all`).
if command -v flock >/dev/null; then
    exec 9<"$SELF"
    flock 9
fi

compute_hash() {
    local files=(scripts/bootstrap.sh)
    local f
    for f in requirements/*.txt setup.py pyproject.toml; do
        [ -f "$f" ] && files+=("$f")
    done
    {
        sha256sum "${files[@]}"
        printf 'repo=%s\nno_constraints=%s\n' "$REPO" "$NO_CONSTRAINTS"
        "$PY" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
}
HASH="$(compute_hash)"
if [ "$FORCE" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
    say ".venv is up to date (stamp matches; use --force to re-check)"
    exit 0
fi
rm -f "$STAMP"
say "bootstrapping $REPO/.venv ($("$PY" --version 2>&1))"

# -------------------------------------------------------------------- pip --
step "[1/8] pip"
want="$(pin_of "$REQ/pip.txt" pip)"
have="$(dist_version pip)"
if [ -n "$want" ] && [ "$have" != "$want" ]; then
    pip_ install -r "$REQ/pip.txt"
else
    note "pip $have already installed"
fi
done_step

# ------------------------------------------------------------------ torch --
# FIRST and ALONE: on this machine kind torch==2.13.0 resolves to the CPU wheel
# in the local find-links directory; anything unpinned pulls the CUDA build.
step "[2/8] torch (CPU build, installed alone)"
want="$(pin_of "$REQ/torch.txt" torch)"
[ -n "$want" ] || die "requirements/torch.txt must pin torch==X"
have="$(dist_version torch)"
if [ "${have%%+*}" = "$want" ]; then
    note "torch $have already installed"
else
    pip_ install -r "$REQ/torch.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
    "$PY" -I -c 'import sys, warnings
warnings.simplefilter("ignore")
import torch
cuda = torch.version.cuda
print("    torch %s (%s)" % (torch.__version__, "CUDA " + cuda if cuda else "CPU build"))
if cuda: print("    WARNING: a CUDA build of torch was installed (several GB); "
               "this stack is meant for the CPU wheel", file=sys.stderr)'
fi
if [ -n "$(dist_version torchvision)" ]; then
    note "WARNING: torchvision is installed; its PyPI wheel is CUDA-built and may fail to import beside CPU torch"
fi
done_step

# ----------------------------------------------- build tools, mmengine, pytest --
step "[3/8] build tools, numpy, opencv, mmengine, pytest, onnx(runtime)"
pip_ install -r "$REQ/build.txt" -r "$REQ/runtime.txt" -r "$REQ/tests.txt" -r "$REQ/deploy.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
done_step

# ------------------------------------------------------------------- mmcv --
step "[4/8] mmcv with compiled CPU ops"
MMCV_VER="$(pin_of "$REQ/mmcv.txt" mmcv)"
[ -n "$MMCV_VER" ] || die "requirements/mmcv.txt must pin mmcv==X"

mmcv_ok() {
    [ "$(dist_version mmcv)" = "$MMCV_VER" ] &&
        "$PY" -I -c 'from mmcv.ops import nms, RoIAlign' >/dev/null 2>&1
}
install_mmcv_wheel() {
    note "installing $1"
    pip_ install --force-reinstall --no-deps "$1" && pip_ install "$1" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
}

if mmcv_ok; then
    note "mmcv $MMCV_VER with ops already installed"
else
    TORCH_FULL="$(dist_version torch)"
    TORCH_BASE="${TORCH_FULL%%+*}"
    PYTAG="$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
    PLAT="$("$PY" -c 'import sysconfig; print(sysconfig.get_platform().replace("-", "_").replace(".", "_"))')"
    installed=0

    # 1) the prebuilt wheel next to the repo (this machine image only)
    shared="$SHARED_WHEELHOUSE/mmcv-$MMCV_VER-$PYTAG-$PYTAG-$PLAT.whl"
    if [ -f "$shared" ]; then
        if [ "$TORCH_BASE" = "$SHARED_WHEEL_TORCH" ]; then
            note "using prebuilt wheel from ../shared/wheelhouse"
            if install_mmcv_wheel "$shared" && mmcv_ok; then
                installed=1
            else
                note "the shared wheel did not give working ops; falling back to the wheel cache"
            fi
        else
            note "../shared/wheelhouse wheel is for torch $SHARED_WHEEL_TORCH, not $TORCH_FULL; not used"
        fi
    fi

    # 2) the per-machine cache, keyed by the exact torch build; 3) build into it
    if [ "$installed" = 0 ]; then
        cache_dir="$CACHE_ROOT/torch-$TORCH_FULL"
        cached="$(ls -1 "$cache_dir"/mmcv-"$MMCV_VER"-"$PYTAG"-*.whl 2>/dev/null | head -n1 || true)"
        if [ -n "$cached" ]; then
            note "using cached wheel $cached"
        else
            say "building mmcv $MMCV_VER with CPU ops against torch $TORCH_FULL:" \
                "this takes ~14 minutes on 2 cores (once per machine; cached in $cache_dir)"
            mkdir -p "$cache_dir"
            tmp="$(mktemp -d "$cache_dir/.build.XXXXXX")"
            TMP_DIRS+=("$tmp")
            # --no-cache-dir: pip's own wheel cache is not keyed by torch version
            MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" \
                pip_loud wheel --no-build-isolation --no-deps --no-cache-dir \
                -w "$tmp" "mmcv==$MMCV_VER"
            built="$(ls -1 "$tmp"/mmcv-*.whl | head -n1)"
            [ -n "$built" ] || die "pip wheel produced no mmcv wheel"
            cached="$cache_dir/$(basename "$built")"
            mv -f "$built" "$cached"
            note "cached $cached"
        fi
        install_mmcv_wheel "$cached"
        mmcv_ok || die "mmcv ops do not import after installing $cached (delete it to force a rebuild)"
    fi
fi
note "mmcv $(dist_version mmcv): 'from mmcv.ops import nms, RoIAlign' ok"
done_step

# ----------------------------------------------------------- mmdet + mmseg --
step "[5/8] mmdet, mmsegmentation"
pip_ install -r "$REQ/openmmlab.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
done_step

# ----------------------------------------------- mmpose + mmaction2 (+deps) --
step "[6/8] mmpose, mmaction2 (--no-deps), their real deps, xtcocotools (built)"
pip_ install -r "$REQ/nodeps-runtime.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
SRC_NAMES="$(names_of "$REQ/source.txt" | paste -sd, -)"
if [ -n "$SRC_NAMES" ]; then
    # built here against the venv's numpy 2 (binary wheels are numpy-1 builds)
    pip_ install --no-build-isolation --no-binary "$SRC_NAMES" -r "$REQ/source.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
    if ! "$PY" -I -c 'import xtcocotools.mask, xtcocotools.coco' >/dev/null 2>&1; then
        note "xtcocotools does not import; rebuilding it from source"
        pip_ install --force-reinstall --no-deps --no-cache-dir --no-build-isolation \
            --no-binary "$SRC_NAMES" -r "$REQ/source.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
        "$PY" -I -c 'import xtcocotools.mask, xtcocotools.coco' || die "xtcocotools does not import"
    fi
fi
pip_ install --no-deps -r "$REQ/nodeps.txt" ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"}
done_step

# ------------------------------------------------------------ this project --
step "[7/8] uniformer_mm (editable)"
[ -f "$REPO/uniformer_mm/version.py" ] || die "uniformer_mm/version.py is missing"
# Also re-installed when the install predates the start-up hook: its
# uniformer_mm-startup.pth (import mmaction.models without uniformer_mm,
# uniformer_mm:: configs) comes with the editable wheel, and pip uninstall
# removes it again.
if "$PY" -I -c 'import sys, os, sysconfig, importlib.util, importlib.metadata as m
m.distribution("uniformer_mm")
root = os.path.realpath(sys.argv[1]) + os.sep
def here(name):
    spec = importlib.util.find_spec(name)
    return spec and spec.origin and os.path.realpath(spec.origin).startswith(root)
pth = os.path.join(sysconfig.get_paths()["purelib"], "uniformer_mm-startup.pth")
sys.exit(0 if here("uniformer_mm") and here("_uniformer_mm_startup") and os.path.isfile(pth) else 1)' \
    "$REPO" >/dev/null 2>&1; then
    note "uniformer_mm already installed in editable mode from this checkout"
else
    # (silence setuptools' multi-line "Editable installation" notice)
    PYTHONWARNINGS="ignore:Editable installation" \
        pip_ install -e . --no-deps --no-build-isolation
fi
done_step

# ----------------------------------------------------------------- sanity --
step "[8/8] sanity check"
TORCH_WANT="$(pin_of "$REQ/torch.txt" torch)"
"$PY" -I -c 'import sys, warnings
warnings.simplefilter("ignore")
import torch
want = sys.argv[1]
if torch.__version__.split("+")[0] != want:
    sys.exit("torch %s is installed, expected %s" % (torch.__version__, want))
import mmcv, mmengine
from mmcv.ops import nms, RoIAlign
import mmdet.models, mmseg.models, mmpose.models
import mmaction.models  # works alone thanks to uniformer_mm-startup.pth
import mmdet, mmseg, mmpose
print("    torch %s | mmengine %s | mmcv %s (ops) | mmdet %s | mmseg %s | mmpose %s"
      % (torch.__version__, mmengine.__version__, mmcv.__version__,
         mmdet.__version__, mmseg.__version__, mmpose.__version__))' "$TORCH_WANT"
done_step

echo "$HASH" > "$STAMP"
say "bootstrap complete in $((SECONDS - T0))s -- activate with: source .venv/bin/activate"
