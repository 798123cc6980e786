#!/usr/bin/env bash
# Build (idempotently) the pinned legacy environment in which neural-tangents 0.6.5 -- our numerical oracle --
# imports and runs: system Python 3.11, jax/jaxlib 0.4.23, tensorflow-cpu 2.15, numpy<2, scipy<1.13, plus a
# flax release of the same era (for the flax linen empirical-NTK fixture) and psutil (benchmarks).
#
# Usage: bash scripts/legacy_nt_env.sh [VENV_DIR]   (default: <repo>/.legacy-nt, gitignored)
# Re-running is cheap: it exits early once the oracle imports.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${1:-${repo_root}/.legacy-nt}"
python_bin="${PYTHON:-python3}"

check() {
  "${venv}/bin/python" - <<'PY'
import jax, flax, neural_tangents, psutil, numpy, scipy
assert jax.__version__ == "0.4.23", jax.__version__
assert neural_tangents.__version__ == "0.6.5", neural_tangents.__version__
assert numpy.__version__.startswith("1."), numpy.__version__
print("legacy-nt ok: jax", jax.__version__, "neural-tangents", neural_tangents.__version__,
      "flax", flax.__version__, "numpy", numpy.__version__, "scipy", scipy.__version__)
PY
}

if [[ -x "${venv}/bin/python" ]] && check 2>/dev/null; then
  exit 0
fi

"${python_bin}" - <<'PY'
import sys
if sys.version_info[:2] != (3, 11):
    sys.exit(f"legacy-nt needs Python 3.11 (jaxlib 0.4.23 / tensorflow 2.15 wheels); got {sys.version}")
PY

"${python_bin}" -m venv "${venv}"
"${venv}/bin/python" -m pip install --quiet --upgrade "pip<25"
# Era-matched pins for flax's own dependencies keep pip from backtracking through releases that need newer jax.
"${venv}/bin/python" -m pip install --quiet \
  "jax==0.4.23" "jaxlib==0.4.23" "neural-tangents==0.6.5" "tensorflow-cpu==2.15.*" "numpy<2" "scipy<1.13" \
  "flax==0.7.5" "optax==0.1.7" "chex==0.1.85" "orbax-checkpoint==0.4.8" "psutil"
check
