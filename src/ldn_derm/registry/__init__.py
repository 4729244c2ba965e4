"""The outcome registry: patients' LDN courses and visits in a database, and what they add up to.

- `models` / `migrations` / `migrate`: SQLAlchemy 2 schema and its Alembic migrations.
- `db`: engines (SQLite in WAL mode by default, PostgreSQL via psycopg 3) and transactions.
- `schemas`: pydantic models at the boundary (ranges, clear errors); `vocab`: the word lists.
- `service.Registry`: every use case as one checked, audited transaction; `auth`: accounts,
  argon2 passwords, login rate limit, server-side sessions; `audit`: the audit trail.
- `fhir_io`, `export`: FHIR in/out and the pseudonymised CSV; `analytics`: response, Wilson,
  Kaplan–Meier, plots; `demo`, `backup`: operations.

Nothing here is imported by the core packages; the web app, the CLI and the tests call it.
See docs/registry.md.
"""
