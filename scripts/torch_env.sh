#!/usr/bin/env bash
# Build (idempotently) the PyTorch CPU environment the training-throughput and attention benchmarks time
# dl_theory against (experiments/benchmarks/training.py, attention.py): torch 2.13.0 (CPU) and numpy.
#
# It is the same venv as PyHessian's (scripts/pyhessian_env.sh installs pyhessian on top of it): default
# <repo>/.pyhessian-venv (gitignored); override with TORCH_VENV (or PYHESSIAN_VENV).
# Usage: bash scripts/torch_env.sh      Re-running is cheap: it exits early once torch imports.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TORCH_VENV:-${PYHESSIAN_VENV:-$root/.pyhessian-venv}}"
python="${PYTHON:-python3.11}"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import torch, numpy; assert torch.__version__.startswith('2.13.0')" 2>/dev/null; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --quiet "torch==2.13.0" numpy
"$venv/bin/python" -c "import torch; print('torch', torch.__version__, 'ok')"
