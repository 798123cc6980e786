"""§5 Geometric deep learning."""
