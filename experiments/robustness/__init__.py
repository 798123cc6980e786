"""§11 Robustness, interpretability, fairness."""
