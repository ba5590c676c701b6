"""The RLS migration helper: every market-scoped table is enabled, forced and given one policy.

A row is visible (and writable) when the transaction is in system context, or when its market is
in `leadops.market_ids`. Rows with no market (global rows, e.g. audit events of global actions)
are visible only with `leadops.see_global` or system context. A second market column (a
cross-market duplicate review) requires both markets. `current_setting(name, true)` is NULL
before the setting is ever made and '' after RESET; both mean "no access" here.
"""

from __future__ import annotations

from django.db import migrations

SYSTEM = "coalesce(current_setting('leadops.system', true), '') <> ''"
SEE_GLOBAL = "coalesce(current_setting('leadops.see_global', true), '') = 'on'"
MARKETS = "string_to_array(nullif(current_setting('leadops.market_ids', true), ''), ',')::bigint[]"


def policy_expression(
    column: str = "market_id", *, second_column: str | None = None, global_rows: bool = False
) -> str:
    visible = f"{column} = ANY ({MARKETS})"
    if global_rows:
        visible = f"({visible} OR ({column} IS NULL AND {SEE_GLOBAL}))"
    if second_column:
        visible = f"({visible} AND ({second_column} IS NULL OR {second_column} = ANY ({MARKETS})))"
    return f"({SYSTEM} OR {visible})"


def scope_expression(column: str, *, global_column: str) -> str:
    """Rows that hold data of several markets (a job's result): visible when the reader holds
    every market in the array `column`, and sees global rows if `global_column` is true."""
    return (
        f"({SYSTEM} OR (coalesce({column} <@ {MARKETS}, false)"
        f" AND (NOT {global_column} OR {SEE_GLOBAL})))"
    )


def rls_enable(
    table: str,
    *,
    column: str = "market_id",
    second_column: str | None = None,
    global_rows: bool = False,
    expression: str | None = None,
) -> migrations.RunSQL:
    """A migration operation that puts `table` under market row-level security (reversible).
    `expression` replaces the market-column rule (e.g. `scope_expression(...)`)."""
    if expression is None:
        expression = policy_expression(column, second_column=second_column, global_rows=global_rows)
    policy = f"{table}_market_scope"
    return migrations.RunSQL(
        sql=[
            f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY',
            f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY',
            f'CREATE POLICY "{policy}" ON "{table}" USING {expression} WITH CHECK {expression}',
        ],
        reverse_sql=[
            f'DROP POLICY IF EXISTS "{policy}" ON "{table}"',
            f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY',
            f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY',
        ],
    )


def rls_policy_replace(table: str, *, new: str, old: str) -> migrations.RunSQL:
    """Swap the market policy of a table already under RLS (reversible: `old` comes back)."""
    policy = f"{table}_market_scope"

    def swap(expression: str) -> str:
        return (
            f'DROP POLICY IF EXISTS "{policy}" ON "{table}";\n'
            f'CREATE POLICY "{policy}" ON "{table}" USING {expression} WITH CHECK {expression}'
        )

    return migrations.RunSQL(sql=swap(new), reverse_sql=swap(old))
