"""Generative models (§7) as pure functions: linear-Gaussian latent models, divergences, VAEs, flows,
autoregressive models, GANs and diffusion."""
