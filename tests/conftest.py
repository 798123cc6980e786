"""Strict JAX settings for every test, and PRNG keys on demand.

x64 is off by default (the library must work in float32); a test that compares against a float64 reference asks for
the ``x64`` fixture, which turns double precision on for that test only.
"""

import os

import jax
import pytest

# The CLI's persistent compilation cache stays off in tests: a test run neither reads nor fills ~/.cache.
os.environ.setdefault("DL_THEORY_COMPILATION_CACHE", "off")
# Tests run tiny sizes, where XLA's compile time dominates: LLVM's cheapest optimization level compiles faster (the
# suite runs markedly faster) and changes no semantics, only the speed of the generated code.
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture
def key() -> jax.Array:
    """A fresh, fixed PRNG key."""
    return jax.random.key(0)


@pytest.fixture
def x64():
    """Run the test with 64-bit floats enabled."""
    with jax.enable_x64(True):
        yield
