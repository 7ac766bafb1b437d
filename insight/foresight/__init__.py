"""Foresight: each client's predicted purchases, value and churn risk (btyd.py: the model; rfm.py: the fallback)."""
