"""Predictions of wide-network training from kernels (neural-tangents' ``nt.predict`` on modern JAX).

* :func:`gradient_descent_mse`: closed-form MSE gradient flow from given outputs at initialization;
* :func:`gradient_descent_mse_ensemble`: mean / covariance over random initializations, from a ``kernel_fn``;
* :func:`gp_inference`: NNGP / NTK / NTKGP posteriors at infinite time;
* :func:`gradient_descent`: any loss (and momentum) by numerical ODE integration;
* :func:`max_learning_rate`: the largest stable MSE learning rate.

Reference: Lee et al., 2019, "Wide neural networks of any depth evolve as linear models under gradient descent".
"""

from dl_theory.predict.ensemble import gradient_descent_mse_ensemble
from dl_theory.predict.gp import Gaussian, gp_inference
from dl_theory.predict.mse import PredictFn, gradient_descent_mse, max_learning_rate
from dl_theory.predict.ode import ODEState, gradient_descent

__all__ = [
    "Gaussian",
    "ODEState",
    "PredictFn",
    "gp_inference",
    "gradient_descent",
    "gradient_descent_mse",
    "gradient_descent_mse_ensemble",
    "max_learning_rate",
]
