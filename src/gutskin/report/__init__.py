"""Figures and reports (knows nothing of how results were made)."""
