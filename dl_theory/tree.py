"""Pytree helpers shared by the packages: the leading (example) axis of a data pytree, and pytrees of arrays.

A data set, a batch of inputs or a pair ``(x, y)`` is a pytree whose array leaves share one leading axis, the example
axis; training, tiled kernels and dataset means all read its size with :func:`leading_size`, which raises the error of
:mod:`dl_theory.checks` when the leaves disagree.
"""

from typing import Any

import jax
import numpy as np

from dl_theory import checks
from dl_theory.typing import PyTree

__all__ = ["is_array_tree", "leading_size"]


def leading_size(name: str, tree: PyTree) -> int:
    """The size of the leading axis that every array leaf of ``tree`` shares (the number of examples).

    Raises:
        ValueError: ``tree`` has no leaves, a scalar leaf, or leaves of different leading sizes.
    """
    leaves = jax.tree.leaves(tree)
    if not leaves:
        raise checks.fail(name, "a pytree with at least one array", tree)
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if len(sizes) != 1 or None in sizes:
        raise ValueError(f"{name} must be arrays sharing one leading (example) axis, got leading sizes "
                         f"{sorted(sizes, key=str)}")
    return sizes.pop()


def is_array_tree(value: Any) -> bool:
    """Whether ``value`` is a non-empty pytree whose leaves are all (NumPy or JAX) arrays."""
    leaves = jax.tree.leaves(value)
    return bool(leaves) and all(isinstance(leaf, np.ndarray | jax.Array) for leaf in leaves)
