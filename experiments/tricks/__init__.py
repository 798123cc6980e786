"""§8 Tricks."""
