"""§6 Theory of DNNs: generalization."""
