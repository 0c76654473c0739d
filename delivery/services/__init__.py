"""Writes of the marketplace, one module per area (orders, payments, zones, reviews, ...)."""
