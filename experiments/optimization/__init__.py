"""§2/§3 Optimization."""
