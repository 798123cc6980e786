"""§9 Recurrent networks."""
