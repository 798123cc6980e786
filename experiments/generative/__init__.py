"""§7 Generative models."""
