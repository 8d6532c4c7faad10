"""Sensors, by trigger kind."""
