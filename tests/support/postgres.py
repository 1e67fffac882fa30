"""The throwaway PostgreSQL server the tests use; it lives in the product
(``protogw.server.storage.pgtemp``) so benchmarks can use it without importing from ``tests/``."""

from protogw.server.storage.pgtemp import ENV_URL, PostgresServer, PostgresUnavailable, postgres_server

__all__ = ["ENV_URL", "PostgresServer", "PostgresUnavailable", "postgres_server"]
