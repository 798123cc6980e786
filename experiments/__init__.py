"""The course's experiments, one subpackage per section and one module per experiment id.

``SECTIONS`` maps each subpackage to the course section it holds, in the order ``dl-theory list`` prints them; an
experiment is found by :func:`dl_theory.experiment.registry.catalog` when its module sits in one of these folders.
"""

SECTIONS = {
    "connectionism": "§1 Connectionism",
    "feedforward": "§2 Feedforward networks",
    "optimization": "§2/§3 Optimization",
    "convolutions": "§4 Convolutions",
    "geometric": "§5 Geometric deep learning",
    "kernels": "§6 Theory of DNNs: kernels and wide networks",
    "generalization": "§6 Theory of DNNs: generalization",
    "curvature": "§6 Theory of DNNs: curvature and the edge of stability",
    "generative": "§7 Generative models",
    "tricks": "§8 Tricks",
    "recurrent": "§9 Recurrent networks",
    "attention": "§10 Attention and transformers",
    "robustness": "§11 Robustness, interpretability, fairness",
}
