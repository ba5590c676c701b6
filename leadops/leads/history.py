"""simple-history rows written by set-based SQL (bulk paths send no signals): the historical
lead's copy of the lead's columns, so `INSERT … SELECT` can fill it from `leads_lead`."""

from __future__ import annotations

from functools import cache

from leadops.leads.models import Lead

BOOKKEEPING = {"history_id", "history_date", "history_change_reason", "history_type"}


def history_table() -> str:
    return str(Lead.history.model._meta.db_table)


@cache
def history_columns() -> tuple[str, ...]:
    """Every lead column the history keeps (history bookkeeping and its user aside)."""
    return tuple(
        f.column
        for f in Lead.history.model._meta.concrete_fields
        if f.name not in BOOKKEEPING and f.column != "history_user_id"
    )


def history_insert_sql(source: str) -> str:
    """`INSERT INTO <history> … SELECT … FROM <source>` with three parameters: the time, the
    reason and the type ('+' made, '~' changed). `source` is a table or a CTE with the lead's
    columns."""
    columns = ", ".join(history_columns())
    return (
        f"INSERT INTO {history_table()} ({columns}, history_date, history_change_reason,"
        f" history_type) SELECT {columns}, %b, %b, %b FROM {source}"
    )
