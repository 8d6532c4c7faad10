"""Franchise point-of-sale analytics, aggregated only when a window is complete."""
