"""Core package of the governed data platform (resources, governance, dbt wiring, CLI)."""
