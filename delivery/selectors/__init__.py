"""Reads of the marketplace, one module per area (discovery, menus, orders, ...)."""
