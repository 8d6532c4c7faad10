"""Ports (abstract services) and their `local` and `aws` adapters, one module per port."""
