#!/usr/bin/env bash
# Build the PyTorch + PyHessian environment used by experiments/benchmarks/hessian_pyhessian.py.
#
# PyHessian (Yao et al. 2020) is the peer the dl_theory Hessian routines are timed against. It needs PyTorch,
# which the main environment does not carry, so it lives in its own venv (default: .pyhessian-venv at the
# repository root; override with PYHESSIAN_VENV). The CPU build of torch 2.13.0 is installed from the local
# wheel that `pip install torch==2.13.0` finds on this machine kind.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PYHESSIAN_VENV:-$root/.pyhessian-venv}"
python="${PYTHON:-python3.11}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet "torch==2.13.0" numpy
# pyhessian 0.1 declares no version pins; --no-deps keeps pip from swapping the CPU torch for another build.
"$venv/bin/pip" install --quiet --no-deps "pyhessian==0.1"
"$venv/bin/python" -c "import torch, pyhessian; print('torch', torch.__version__, 'pyhessian ok')"
