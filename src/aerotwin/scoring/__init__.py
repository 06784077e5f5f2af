"""Scoring with the champion risk models: batch (aerotwin score) and what-if."""
