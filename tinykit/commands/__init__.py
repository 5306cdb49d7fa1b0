"""Thin click wrappers, one module per `tinykit` command (imported lazily)."""
