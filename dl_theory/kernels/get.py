"""The ``get`` argument of every kernel and prediction function: which kernels (or fields) to return, and how.

neural-tangents' convention (Novak et al., 2020, "Neural Tangents", ICLR), used by the analytic ``stax`` kernels, the
empirical and Monte-Carlo kernels and ``predict``: ``get`` is ``None`` (a default set of names, or the whole object),
one name (its value alone) or a tuple of distinct names (a namedtuple with one field per name, in the order asked).
Names are case-insensitive. :func:`canonicalize_get` parses ``get`` once at the public boundary and :func:`pack_output`
builds the result; namedtuple classes are cached per ``(type name, fields)``, so results of two calls are pytrees of the
same type and can be combined by ``jax.tree.map``.
"""

import collections
import functools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from dl_theory import checks

__all__ = ["canonicalize_get", "kernel_tuple", "pack_output"]

Get = str | Sequence[str] | None


def canonicalize_get(
    get: Get, allowed: Collection[str] | None = None, default: tuple[str, ...] | None = None
) -> tuple[bool, tuple[str, ...] | None]:
    """``(single, names)``: whether ``get`` was one string, and its lower-cased names (``default`` for ``None``).

    Args:
      get: ``None``, a name, or a non-empty sequence of distinct names.
      allowed: the names that may be asked for; ``None`` leaves the check to the caller.
      default: the names that ``get=None`` stands for (``None``: the caller returns its whole object).

    Raises:
      TypeError: ``get`` is neither ``None``, a string nor a sequence of strings.
      ValueError: ``get`` is empty, repeats a name, or names one outside ``allowed``.
    """
    if get is None:
        return False, default
    single = isinstance(get, str)
    names = (get,) if single else get
    if not isinstance(names, list | tuple) or not all(isinstance(g, str) for g in names):
        raise TypeError(f"get must be None, a string or a tuple of strings, got {get!r}")
    names = tuple(g.lower() for g in names)
    if not names:
        raise checks.fail("get", "None, a string or a non-empty tuple of strings", get)
    if len(set(names)) < len(names):
        raise checks.fail("get", "a tuple of distinct names", get)
    unknown = [g for g in names if allowed is not None and g not in allowed]
    if unknown:
        raise ValueError(f"get must be names from {tuple(allowed)}, got unknown name {unknown[0]!r}")
    return single, names


@functools.cache
def kernel_tuple(type_name: str, fields: tuple[str, ...]) -> type:
    """The namedtuple class ``type_name`` with ``fields`` (one class per pair, so equal calls give equal types)."""
    return collections.namedtuple(type_name, fields)


def pack_output(type_name: str, values: Mapping[str, Any], single: bool) -> Any:
    """The one value when ``get`` was a string, else a namedtuple ``type_name`` of ``values`` in their order."""
    if single:
        return next(iter(values.values()))
    return kernel_tuple(type_name, tuple(values))(*values.values())
