"""Governance derived from platform/policies: owners, groups, kinds, descriptions, classification."""
