"""§1 Connectionism."""
