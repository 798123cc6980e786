"""Models as pure functions, by family; every analysis takes their ``apply_fn`` and parameter pytree.

* :mod:`~dl_theory.models.mlp`, :mod:`~dl_theory.models.conv` -- stax triples ``(init_fn, apply_fn, kernel_fn)``
  in the NTK or the standard parameterization: trained, analysed empirically and taken to infinite width;
  :func:`~dl_theory.models.mlp.dense_mlp` -- a plain MLP with any activation, laid out as a PyTorch peer holds it;
* :func:`~dl_theory.models.residual.residual_mlp` -- residual blocks and their path expansion;
  :mod:`~dl_theory.models.regions` -- exact linear-region counts of ReLU nets (in the plane, along a line);
* :mod:`~dl_theory.models.cpwl` -- continuous piecewise-linear functions as one-hidden-layer ReLU nets (both ways),
  maxout / k-hinge units;
* :mod:`~dl_theory.models.classical` -- the perceptron, maximum margin, Hopfield networks, linear models;
* :mod:`~dl_theory.models.convolution` -- convolution arithmetic: cross-correlation and convolution, Toeplitz
  matrices, FFT convolution, separable kernels, output shapes and parameter counts;
* :mod:`~dl_theory.models.word2vec` -- skip-gram embeddings: the full-softmax NLL, negative sampling, neighbours;
* :mod:`~dl_theory.models.sequence` -- RNN/LSTM/GRU cells, the LRU, CTC and seq2seq (§9);
* :mod:`~dl_theory.models.graph` -- message passing, GCNs, spectral filters, DeepSets, 1-WL (§5);
* :mod:`~dl_theory.models.attention` -- attention, transformers, ViT, linear attention (§10);
* :mod:`~dl_theory.models.generative` -- divergences, linear-Gaussian latent models, VAEs, MADE, flows, GANs and
  diffusion (§7);
* :func:`from_flax` -- a flax linen or nnx module as the same pure ``(init_fn, apply_fn)`` pair.
"""

from dl_theory.models import attention, classical, convolution, cpwl, generative, graph, sequence, word2vec
from dl_theory.models._flax import from_flax
from dl_theory.models.conv import cnn
from dl_theory.models.mlp import ACTIVATIONS, dense_mlp, mlp
from dl_theory.models.regions import arrangement_regions, line_breakpoints, tent_map_params
from dl_theory.models.residual import linear_stack_matrix, path_expansion, path_length_counts, residual_mlp

__all__ = ["ACTIVATIONS", "arrangement_regions", "attention", "classical", "cnn", "convolution", "cpwl", "dense_mlp",
           "from_flax", "generative", "graph", "line_breakpoints", "linear_stack_matrix", "mlp", "path_expansion",
           "path_length_counts", "residual_mlp", "sequence", "tent_map_params", "word2vec"]
