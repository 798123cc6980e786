"""Closed forms used by the claims: counting functions, capacities and bounds."""
