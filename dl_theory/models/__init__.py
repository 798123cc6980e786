"""Pure models, one module per topic."""
