"""The orders database: the seed's order document as columns, captured by the outbox's triggers.
`dataplatform orders migrate` applies the numbered migrations that are missing, each in one
transaction with its version row, so it is idempotent and safe to run again at any time."""

from __future__ import annotations

from datetime import datetime, timezone

from dataplatform.outbox import CapturedTable, Column, install_sql
from dataplatform.resources.oltp import Database

ORDERS = CapturedTable(
    table="orders", aggregate_type="order", key="order_id",
    columns=(
        Column("order_id", "text"), Column("order_date", "timestamp"), Column("ship_method", "text"),
        Column("bill_address", "text"), Column("bill_city", "text"), Column("bill_postal_code", "text"),
        Column("product_category", "text"), Column("unit_price", "decimal"), Column("order_qty", "integer"),
        Column("status", "text"), Column("updated_at", "timestamp"),
    ),
)
MIGRATION_LOCK = 0x6F72646572  # any constant bigint shared by every migrate
STATUSES = ("placed", "paid", "shipped", "delivered", "cancelled")


def _orders_table(dialect: str) -> str:
    # SQLite has no exact decimal: prices are canonical decimal text there, NUMERIC on PostgreSQL.
    # Timestamps are UTC: ISO-8601 text ending in Z on SQLite, TIMESTAMPTZ on PostgreSQL.
    if dialect == "sqlite":
        price, stamp, uuid = "TEXT NOT NULL CHECK (CAST(unit_price AS REAL) >= 0)", "TEXT NOT NULL CHECK ({} LIKE '____-__-__T__:__:__%Z')", "TEXT"
    else:
        price, stamp, uuid = "NUMERIC(12, 2) NOT NULL CHECK (unit_price >= 0)", "TIMESTAMPTZ NOT NULL", "UUID"
    return f"""CREATE TABLE IF NOT EXISTS orders (
        order_id {uuid} PRIMARY KEY,
        order_date {stamp.format('order_date')},
        ship_method TEXT NOT NULL,
        bill_address TEXT NOT NULL,
        bill_city TEXT NOT NULL,
        bill_postal_code TEXT NOT NULL,
        product_category TEXT NOT NULL,
        unit_price {price},
        order_qty INTEGER NOT NULL CHECK (order_qty > 0),
        status TEXT NOT NULL CHECK (status IN ({', '.join(f"'{s}'" for s in STATUSES)})),
        updated_at {stamp.format('updated_at')})"""


def migrations(dialect: str) -> list[tuple[int, str, list[str]]]:
    """(version, description, statements), in order."""
    return [
        (1, "orders table", [_orders_table(dialect)]),
        (2, "transactional outbox and the orders triggers", install_sql(dialect, [ORDERS])),
    ]


def migrate(db: Database) -> list[int]:
    """Apply the missing migrations; returns the versions applied now (empty: up to date)."""
    db.execute_script(["CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                       "description TEXT NOT NULL, applied_at TEXT NOT NULL)"])
    applied = []
    for version, description, statements in migrations(db.dialect):
        with db.transaction() as con:
            # Checked inside the migration's own transaction, behind a lock (SQLite: BEGIN IMMEDIATE;
            # PostgreSQL: an advisory lock), so two concurrent migrates apply each version once.
            if db.dialect == "postgresql":
                con.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            if con.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchall():
                continue
            for statement in statements:
                con.execute(statement)
            con.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                        (version, description, datetime.now(timezone.utc).isoformat()))
            applied.append(version)
    return applied
