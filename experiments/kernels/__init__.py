"""§6 Theory of DNNs: kernels and wide networks."""
