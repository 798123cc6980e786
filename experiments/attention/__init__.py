"""§10 Attention and transformers."""
