"""§6 Theory of DNNs: curvature and the edge of stability."""
