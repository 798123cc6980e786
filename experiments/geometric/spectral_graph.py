"""Spectral graph theory: the Laplacian's quadratic form, the graph Fourier transform and local polynomial filters.

For an undirected graph L = D − A satisfies xᵀLx = ½ Σ_uv A_uv (x_u − x_v)² ≥ 0, so L is positive semidefinite; the
identity is checked in float64 on random signals of several graphs (Erdős–Rényi, a stochastic block model, a random
regular graph, Zachary's karate club), and the smallest computed eigenvalue must not lie below −N·eps·‖L‖₂, the
backward-error scale of a stable symmetric eigensolver. The eigenvectors U of L (ascending eigenvalues) are the
graph's Fourier modes: x̂ = Uᵀx, x = Ux̂ (round trip and Parseval in float64).

A polynomial filter p(L) = Σ_{k≤K} α_k L^k is the spectral multiplier p(λ): Uᵀ p(L) x = p(λ) ⊙ Uᵀx. Because
(L^k)_uv = 0 whenever u and v are more than k hops apart, p(L) is K-hop local: its entries are exactly 0 (not just
small) beyond K hops, compared with networkx's shortest-path distances. At exactly K hops the entry is
α_K (−1)^K Σ_{shortest paths} Π A ≠ 0 (all terms have one sign), so the reach is exactly K. The same holds for
ChebNet's Chebyshev form Σ θ_k T_k(2L/λ_max − I), which equals the polynomial filter of the same function. A
non-polynomial multiplier, the heat kernel exp(−tL), is the control: it is nonzero at every distance in a connected
graph.

Spectral convolution x ⋆ y = U((Uᵀx) ⊙ (Uᵀy)) is commutative and commutes with L (L(x ⋆ g) = (Lx) ⋆ g, the graph
analogue of shift equivariance); a polynomial filter is convolution with the signal g = U p(λ) whose spectrum is
p(λ): p(L)x = x ⋆ g. (With repeated eigenvalues U is not unique and x ⋆ y depends on the basis chosen inside an
eigenspace; p(L)x does not.)
"""

from dataclasses import dataclass
from typing import Annotated

import jax
import networkx as nx
import numpy as np

from dl_theory import checks
from dl_theory.data.graphs import erdos_renyi, karate_club, random_regular, stochastic_block_model
from dl_theory.experiment import Claim, Experiment, Result
from dl_theory.experiment.plotting import subplots
from dl_theory.models.graph.spectral import (
    chebyshev_filter,
    fourier_basis,
    gft,
    inverse_gft,
    laplacian,
    monomial_to_chebyshev,
    normalized_laplacian,
    polynomial_filter,
    spectral_convolution,
    spectral_filter,
)

EXACT = 1e-12  # float64 relative error of an exact identity (a few hundred ulps at these sizes)
EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class Config:
    seed: Annotated[int, checks.at_least(0)] = 0
    n_nodes: Annotated[int, checks.at_least(8)] = 60
    edge_prob: Annotated[float, checks.in_interval(0.0, 1.0)] = 0.08
    degrees: Annotated[tuple[int, ...], checks.each(checks.count)] = (1, 2, 3, 4, 5)
    n_signals: Annotated[int, checks.count] = 16
    heat_time: Annotated[float, checks.positive] = 0.5

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_nodes=40, edge_prob=0.1, degrees=(1, 2, 3), n_signals=8)


def _graphs(key: jax.Array, cfg: Config) -> dict[str, np.ndarray]:
    k_er, k_sbm, k_reg = jax.random.split(key, 3)
    half = cfg.n_nodes // 2
    return {
        "karate": np.asarray(karate_club()[0], np.float64),
        "erdos-renyi": np.asarray(erdos_renyi(k_er, cfg.n_nodes, cfg.edge_prob), np.float64),
        "sbm": np.asarray(stochastic_block_model(k_sbm, (half, cfg.n_nodes - half), 4 * cfg.edge_prob,
                                                 cfg.edge_prob / 2)[0], np.float64),
        "3-regular": np.asarray(random_regular(k_reg, cfg.n_nodes, 3), np.float64),
    }


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), np.finfo(float).tiny))


def _hops(a: np.ndarray) -> np.ndarray:
    """All-pairs shortest-path distances from networkx; -1 for unreachable pairs."""
    dist = np.full(a.shape, -1)
    for u, lengths in nx.all_pairs_shortest_path_length(nx.from_numpy_array(a)):
        for v, d in lengths.items():
            dist[u, v] = d
    return dist


def _graph_checks(rng: np.random.Generator, a: np.ndarray, cfg: Config) -> dict:
    n = a.shape[0]
    lap = np.asarray(laplacian(a))
    lam, u = (np.asarray(v) for v in fourier_basis(lap))
    lam_sym = np.asarray(fourier_basis(normalized_laplacian(a))[0])
    x, y = rng.normal(size=(n, cfg.n_signals)), rng.normal(size=(n, cfg.n_signals))
    quad = np.einsum("ud,uv,vd->d", x, lap, x)
    brute = 0.5 * np.einsum("uv,uvd->d", a, (x[:, None, :] - x[None, :, :]) ** 2)
    x_hat = np.asarray(gft(u, x))
    out = {
        "min_eig_over_norm_eps": float(lam[0] / (np.max(np.abs(lam)) * EPS)),
        "min_eig_over_n_norm_eps": float(lam[0] / (n * np.max(np.abs(lam)) * EPS)),
        "sym_range": (float(lam_sym[0]), float(lam_sym[-1])),
        "quadratic_form": _rel(quad, brute),
        "round_trip": _rel(np.asarray(inverse_gft(u, x_hat)), x),
        "parseval": _rel(np.linalg.norm(x_hat, axis=0), np.linalg.norm(x, axis=0)),
        "orthonormal": float(np.max(np.abs(u.T @ u - np.eye(n)))),
    }
    dist = _hops(a)
    eye = np.eye(n)
    lam_max = float(lam[-1])
    locality = {"poly_beyond": 0.0, "cheb_beyond": 0.0, "poly_at_K_min": np.inf, "multiplier": 0.0,
                "chebyshev": 0.0, "conv_filter": 0.0}
    profiles = {}
    for k in cfg.degrees:
        alphas = rng.normal(size=k + 1)
        p_mat = np.asarray(polynomial_filter(lap, alphas, eye))
        theta = monomial_to_chebyshev(alphas, lam_max)
        c_mat = np.asarray(chebyshev_filter(lap, theta, eye, lam_max))
        beyond = (dist > k) | (dist < 0)
        locality["poly_beyond"] = max(locality["poly_beyond"], float(np.max(np.abs(p_mat[beyond]), initial=0.0)))
        locality["cheb_beyond"] = max(locality["cheb_beyond"], float(np.max(np.abs(c_mat[beyond]), initial=0.0)))
        at_k = dist == k
        if at_k.any():
            locality["poly_at_K_min"] = min(locality["poly_at_K_min"],
                                            float(np.min(np.abs(p_mat[at_k])) / np.max(np.abs(p_mat))))
        p_lam = np.polynomial.polynomial.polyval(lam, alphas)
        px = np.asarray(polynomial_filter(lap, alphas, x))
        locality["multiplier"] = max(locality["multiplier"], _rel(np.asarray(gft(u, px)), p_lam[:, None] * x_hat))
        locality["chebyshev"] = max(locality["chebyshev"], _rel(np.asarray(chebyshev_filter(lap, theta, x, lam_max)),
                                                                px))
        g = np.asarray(inverse_gft(u, p_lam))
        conv = np.asarray(spectral_convolution(u, x, np.repeat(g[:, None], cfg.n_signals, axis=1)))
        locality["conv_filter"] = max(locality["conv_filter"], _rel(conv, px))
        profiles[k] = [float(np.max(np.abs(p_mat[dist == h]), initial=0.0)) for h in range(dist.max() + 1)]
    heat = np.asarray(spectral_filter(u, np.exp(-cfg.heat_time * lam), eye))
    profiles["heat"] = [float(np.max(np.abs(heat[dist == h]), initial=0.0)) for h in range(dist.max() + 1)]
    reach = dist >= 0
    out["heat_min_reachable"] = float(np.min(np.abs(heat[reach])))
    conv_xy = np.asarray(spectral_convolution(u, x, y))
    out["commutative"] = _rel(np.asarray(spectral_convolution(u, y, x)), conv_xy)
    out["commutes_with_L"] = _rel(lap @ conv_xy, np.asarray(spectral_convolution(u, lap @ x, y)))
    out.update(locality)
    out["profiles"] = profiles
    out["lam"], out["u"] = lam, u
    return out


def run(cfg: Config) -> Result:
    rng = np.random.default_rng(cfg.seed)
    with jax.enable_x64(True):
        graphs = _graphs(jax.random.key(cfg.seed), cfg)
        res = {name: _graph_checks(rng, a, cfg) for name, a in graphs.items()}
    worst = lambda key: max(r[key] for r in res.values())  # noqa: E731
    k_max = max(cfg.degrees)
    claims = [
        Claim.at_least("laplacian-psd", "min over graphs of λ_min(L) / (N ‖L‖₂ eps) >= −1 (float64 eigh backward "
                       "error scale; N = nodes of that graph)", -1.0,
                       min(r["min_eig_over_n_norm_eps"] for r in res.values())),
        Claim.at_most("normalized-laplacian-in-[0,2]", "max over graphs of the normalized Laplacian's largest "
                      "eigenvalue", 2.0 + 1e-12, max(r["sym_range"][1] for r in res.values())),
        Claim.at_most("quadratic-form", f"max relative error of xᵀLx = ½ Σ A_uv (x_u − x_v)² ({cfg.n_signals} random "
                      "signals, every graph, float64)", EXACT, worst("quadratic_form")),
        Claim.at_most("gft-round-trip", "max relative error of U(Uᵀx) = x", EXACT, worst("round_trip")),
        Claim.at_most("parseval", "max relative error of ‖Uᵀx‖ = ‖x‖", EXACT, worst("parseval")),
        Claim.at_most("polynomial-is-multiplier", "max relative error of Uᵀ p(L) x = p(λ) ⊙ Uᵀx over degrees "
                      f"{cfg.degrees}", EXACT, worst("multiplier")),
        Claim.at_most("k-hop-locality", f"max |p(L)_uv| over pairs more than K hops apart, degrees K in {cfg.degrees} "
                      "(exactly zero)", 0.0, worst("poly_beyond")),
        Claim.at_least("reach-exactly-k", "min over graphs and K of min |p(L)_uv| / max|p(L)| at exactly K hops "
                       "(nonzero: the reach is K, not less)", 1e-14, min(r["poly_at_K_min"] for r in res.values())),
        Claim.at_most("chebyshev-k-hop-locality", "max |Σ θ_k T_k(L̃)_uv| beyond K hops (exactly zero)", 0.0,
                      worst("cheb_beyond")),
        Claim.at_most("chebyshev-equals-polynomial", "max relative error between the Chebyshev and the monomial "
                      "form of the same polynomial filter", EXACT * 100, worst("chebyshev")),
        Claim.at_least("heat-kernel-not-local", f"min |exp(−{cfg.heat_time:g} L)_uv| over connected pairs (a "
                       "non-polynomial multiplier reaches every distance; control)", 1e-300,
                       min(r["heat_min_reachable"] for r in res.values())),
        Claim.at_most("convolution-commutative", "max relative error of x ⋆ y = y ⋆ x, x ⋆ y = U((Uᵀx) ⊙ (Uᵀy))",
                      EXACT, worst("commutative")),
        Claim.at_most("convolution-commutes-with-L", "max relative error of L(x ⋆ y) = (Lx) ⋆ y", EXACT,
                      worst("commutes_with_L")),
        Claim.at_most("polynomial-filter-is-convolution", "max relative error of p(L)x = x ⋆ g, g = U p(λ)", EXACT,
                      worst("conv_filter")),
    ]
    metrics = {name: {k: v for k, v in r.items() if k not in ("profiles", "lam", "u")} for name, r in res.items()}
    metrics["max_degree"] = k_max
    return Result(claims, metrics, {"a": graphs["karate"], "karate": res["karate"], "lams": {
        name: r["lam"] for name, r in res.items()}, "heat_time": cfg.heat_time})


def plot(result: Result):
    d = result.data
    fig, (ax1, ax2, ax3) = subplots(1, 3, width=4.2, title="Spectral graph theory")
    g = nx.from_numpy_array(d["a"])
    pos = nx.spring_layout(g, seed=0)
    fiedler = d["karate"]["u"][:, 1]
    nx.draw_networkx_edges(g, pos, ax=ax1, alpha=0.3)
    nodes = nx.draw_networkx_nodes(g, pos, ax=ax1, node_size=70, node_color=fiedler, cmap="coolwarm",
                                   vmin=-np.abs(fiedler).max(), vmax=np.abs(fiedler).max())
    fig.colorbar(nodes, ax=ax1, shrink=0.7, label="u₂(v)")
    ax1.set(title="karate club: Fiedler vector u₂ of L")
    ax1.axis("off")
    for name, lam in d["lams"].items():
        ax2.plot(np.arange(len(lam)) / (len(lam) - 1), lam, ".-", ms=3, label=name)
    ax2.set(xlabel="index / (N − 1)", ylabel="eigenvalue of L = D − A", title="graph frequencies (λ ≥ 0)")
    ax2.legend(fontsize=7)
    for i, (k, prof) in enumerate(d["karate"]["profiles"].items()):
        hops = np.arange(len(prof))
        vals = np.asarray(prof) / max(prof)
        label = f"exp(−{d['heat_time']:g}L)" if k == "heat" else f"degree-{k} polynomial"
        (line,) = ax3.semilogy(hops[vals > 0], vals[vals > 0], "o-", ms=4, label=label)
        ax3.plot(hops[vals == 0], np.full((vals == 0).sum(), 10.0 ** (-16 - i)), "x", color=line.get_color())
    ax3.set(xlabel="hop distance d(u, v)", ylabel="max |filter_uv| / max |filter|  (x: exactly 0)",
            title="karate: K-hop locality of p(L)")
    ax3.legend(fontsize=7)
    return fig


EXPERIMENT = Experiment(
    id="spectral-graph",
    description="Laplacian PSD and quadratic form, graph Fourier transform, K-hop local polynomial filters, "
                "spectral convolution.",
    config=Config, run=run, plot=plot)
