r"""Graph data as arrays: seeded random graphs and Zachary's karate club (bundled with networkx, offline).

Every graph is a dense float32 adjacency ``(N, N)``, symmetric with a zero diagonal (undirected, no self loops).
Generators: Erdős–Rényi :math:`G(n, p)` (each edge independently with probability :math:`p`), the stochastic block
model (edge probability ``p_in`` within a block, ``p_out`` across; Holland et al., 1983), cycles, random
:math:`d`-regular graphs, and disjoint unions. The karate club (Zachary, 1977, "An Information Flow Model for Conflict
and Fission in Small Groups") is a 34-member club that split in two; the faction of each member (``'Mr. Hi'`` -> 0,
``'Officer'`` -> 1) is the node label of the standard semi-supervised benchmark (Kipf & Welling, 2017).
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np

from dl_theory import checks

__all__ = ["cycle", "disjoint_union", "erdos_renyi", "karate_club", "random_regular", "stochastic_block_model"]


def _symmetric_bernoulli(key: jax.Array, p_NxN: jax.Array) -> jax.Array:
    upper = jnp.triu(jax.random.bernoulli(key, p_NxN).astype(jnp.float32), k=1)
    return upper + upper.T


def erdos_renyi(key: jax.Array, n: int, p: float) -> jax.Array:
    """A :math:`G(n, p)` graph: every one of the :math:`n(n-1)/2` edges present independently with probability p."""
    n = checks.count("n", n)
    checks.unit_interval("p", p)
    return _symmetric_bernoulli(key, jnp.full((n, n), p))


def stochastic_block_model(key: jax.Array, sizes: Sequence[int], p_in: float,
                           p_out: float) -> tuple[jax.Array, jax.Array]:
    """A stochastic block model with blocks of ``sizes``; returns ``(adjacency, block label of every node)``."""
    checks.each(checks.count)("sizes", sizes)
    checks.unit_interval("p_in", p_in)
    checks.unit_interval("p_out", p_out)
    labels = jnp.repeat(jnp.arange(len(sizes)), jnp.asarray(sizes), total_repeat_length=int(sum(sizes)))
    same = labels[:, None] == labels[None, :]
    return _symmetric_bernoulli(key, jnp.where(same, p_in, p_out)), labels


def cycle(n: int) -> jax.Array:
    """The cycle :math:`C_n` (every node joined to its two neighbours mod ``n``), ``n >= 3``."""
    n = checks.at_least(3)("n", n)
    nxt = jnp.roll(jnp.eye(n, dtype=jnp.float32), 1, axis=1)
    return nxt + nxt.T


def random_regular(key: jax.Array, n: int, d: int) -> jax.Array:
    """A uniformly random simple ``d``-regular graph on ``n`` nodes (networkx's pairing algorithm, seeded from
    ``key``); ``n * d`` must be even and ``d < n``."""
    n = checks.count("n", n)
    d = checks.at_least(0)("d", d)
    if d >= n or (n * d) % 2:
        raise checks.fail("d", f"< n={n} with n*d even", d)
    seed = int(jax.random.randint(key, (), 0, 2**31 - 1))
    g = nx.random_regular_graph(d, n, seed=seed)
    return jnp.asarray(nx.to_numpy_array(g, nodelist=range(n), dtype=np.float32))


def disjoint_union(*adjacencies: jax.Array) -> jax.Array:
    """The block-diagonal adjacency of the disjoint union of the given graphs (nodes numbered in order)."""
    if not adjacencies:
        raise checks.fail("adjacencies", "at least one adjacency matrix", adjacencies)
    return jax.scipy.linalg.block_diag(*(jnp.asarray(a) for a in adjacencies))


def karate_club() -> tuple[jax.Array, jax.Array]:
    """Zachary's karate club: the unweighted ``(34, 34)`` adjacency and each member's faction (0: Mr. Hi, 1: Officer).

    Both factions have 17 members; node 0 is the instructor (Mr. Hi) and node 33 the administrator.
    """
    g = nx.karate_club_graph()
    a = nx.to_numpy_array(g, nodelist=range(g.number_of_nodes()), weight=None, dtype=np.float32)
    labels = np.array([g.nodes[v]["club"] != "Mr. Hi" for v in range(g.number_of_nodes())], np.int32)
    return jnp.asarray(a), jnp.asarray(labels)
