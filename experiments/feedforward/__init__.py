"""§2 Feedforward networks."""
