"""Graph neural networks (§5): adjacency utilities, message passing, GCNs and spectral graph signal processing.

* :mod:`~dl_theory.models.graph.adjacency` -- validation, degrees, :math:`D^{-1/2}(A+I)D^{-1/2}`, edge lists,
  node permutations;
* :mod:`~dl_theory.models.graph.message_passing` -- dense and edge-list (segment-sum) aggregation, an MPNN layer and
  model with invariant readouts;
* :mod:`~dl_theory.models.graph.gcn` -- GCN layers and models, their infinite-width NNGP, a semi-supervised node loss;
* :mod:`~dl_theory.models.graph.spectral` -- Laplacians, the graph Fourier transform, polynomial and Chebyshev
  filters, spectral convolution;
* :mod:`~dl_theory.models.graph.sets` -- DeepSets: invariant and equivariant set models, pooling with masks;
* :mod:`~dl_theory.models.graph.wl` -- 1-WL colour refinement and the cycle counts it cannot see;
* :mod:`~dl_theory.models.graph.higher_order` -- a provably powerful graph network on node pairs (2-FWL), which sees
  them.
"""

from dl_theory.models.graph.adjacency import (
    EdgeList,
    check_adjacency,
    check_node_features,
    degree,
    edge_list,
    normalized_adjacency,
    normalized_edges,
    permutation_matrix,
    permute_graph,
    random_permutation,
    to_dense,
)
from dl_theory.models.graph.gcn import gcn, gcn_layer, gcn_nngp_fn, node_loss
from dl_theory.models.graph.higher_order import pair_features, pair_readout, ppgn, ppgn_block
from dl_theory.models.graph.message_passing import (
    AGGREGATIONS,
    READOUTS,
    add_bias,
    aggregate,
    aggregate_dense,
    aggregate_edges,
    mpnn,
    mpnn_layer,
    readout,
)
from dl_theory.models.graph.sets import (
    POOLINGS,
    check_set_mask,
    deep_sets,
    equivariant_layer,
    equivariant_net,
    pool,
    rounding_bound,
)
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
from dl_theory.models.graph.wl import cycle_counts, node_cycle_counts, wl_colors, wl_equivalent, wl_refine

__all__ = [
    "AGGREGATIONS", "EdgeList", "POOLINGS", "READOUTS", "add_bias", "aggregate", "aggregate_dense",
    "aggregate_edges", "chebyshev_filter", "check_adjacency", "check_node_features", "check_set_mask",
    "cycle_counts", "deep_sets", "degree", "edge_list", "equivariant_layer", "equivariant_net", "fourier_basis",
    "gcn", "gcn_layer", "gcn_nngp_fn", "gft", "inverse_gft", "laplacian", "monomial_to_chebyshev", "mpnn",
    "mpnn_layer", "node_cycle_counts", "node_loss", "normalized_adjacency", "normalized_edges",
    "normalized_laplacian", "pair_features", "pair_readout", "permutation_matrix", "permute_graph",
    "polynomial_filter", "pool", "ppgn", "ppgn_block", "random_permutation", "readout", "rounding_bound",
    "spectral_convolution", "spectral_filter", "to_dense", "wl_colors", "wl_equivalent", "wl_refine",
]
