"""Alembic migrations of the registry schema (run programmatically by ldn_derm.registry.migrate)."""
