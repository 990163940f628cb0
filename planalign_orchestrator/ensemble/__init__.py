"""Seed ensembles: many seeds of one config simulated side by side, and their distributions."""
