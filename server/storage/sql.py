"""SQL constructs the two databases spell differently, and small statement helpers.

Each construct is a ``FunctionElement`` whose arguments are ordinary clauses, so it takes part in
SQLAlchemy's statement cache through the public ``inherit_cache`` switch (a statement using it is
compiled once per shape, not once per call), and ``@compiles`` renders it per dialect.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class _ContainsCI(FunctionElement[Any]):
    """``column`` contains ``pattern`` (a LIKE pattern with ``/`` as its escape), ignoring case.

    PostgreSQL gets ``ILIKE``. SQLite gets plain ``LIKE``, which already ignores ASCII case there
    and, unlike ``lower(x) LIKE lower(y)``, needs no function call per row (several times faster
    on a 100,000-row scan). Both fold ASCII the same way; beyond ASCII, SQLite stays
    case-sensitive while PostgreSQL follows its locale.
    """

    name = "contains_ci"
    inherit_cache = True
    # Not Boolean: SQLite's compiler would append "= 1" to a boolean-typed expression in WHERE.
    type = sa.types.NullType()


def _like(element: _ContainsCI, compiler: SQLCompiler, operator: str, **kw: Any) -> str:
    column, pattern = element.clauses
    return f"({compiler.process(column, **kw)} {operator} {compiler.process(pattern, **kw)} ESCAPE '/')"


@compiles(_ContainsCI)
def _contains_ci_default(element: _ContainsCI, compiler: SQLCompiler, **kw: Any) -> str:
    return _like(element, compiler, "ILIKE", **kw)


@compiles(_ContainsCI, "sqlite")
def _contains_ci_sqlite(element: _ContainsCI, compiler: SQLCompiler, **kw: Any) -> str:
    return _like(element, compiler, "LIKE", **kw)


def like_pattern(needle: str) -> str:
    """The LIKE pattern (escape character ``/``) that matches ``needle`` anywhere, literally."""
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def contains_ci(column: sa.ColumnElement[Any], needle: str) -> sa.ColumnElement[bool]:
    """Case-insensitive literal substring match (``%`` and ``_`` in ``needle`` match themselves)."""
    pattern = sa.bindparam(None, like_pattern(needle), type_=sa.String(), unique=True)
    return _ContainsCI(column, pattern)


class _LabelsOf(FunctionElement[Any]):
    """The sorted labels of the experiment whose id is the argument, as one value per row.

    Folding them into the row saves a second query per page. SQLite yields a JSON array text
    (``json_group_array``), PostgreSQL a text array; ``labels_value`` reads either.
    """

    name = "labels_of"
    inherit_cache = True
    type = sa.types.NullType()


@compiles(_LabelsOf)
def _labels_of_default(element: _LabelsOf, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    ref = compiler.process(column, **kw)
    return f"ARRAY(SELECT label FROM experiment_labels WHERE experiment_id = {ref} ORDER BY label)"


@compiles(_LabelsOf, "sqlite")
def _labels_of_sqlite(element: _LabelsOf, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    ref = compiler.process(column, **kw)
    # json_group_array keeps the order in which the inner query hands rows over.
    return (
        "(SELECT json_group_array(label) FROM "
        f"(SELECT label FROM experiment_labels WHERE experiment_id = {ref} ORDER BY label))"
    )


def labels_of(experiment_id: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """One value per row holding the experiment's sorted labels (read it with ``labels_value``)."""
    return _LabelsOf(experiment_id)


def labels_value(value: Any) -> list[str]:
    """The labels ``labels_of`` produced, on either database."""
    if value is None:
        return []
    if isinstance(value, str):
        return list(orjson.loads(value))
    return list(value)


def ordered(expr: sa.ColumnElement[Any], descending: bool, nulls_last: bool | None) -> sa.ColumnElement[Any]:
    """``expr ASC|DESC`` with an explicit NULL placement when ``nulls_last`` is not None."""
    clause = expr.desc() if descending else expr.asc()
    if nulls_last is None:
        return clause
    return clause.nulls_last() if nulls_last else clause.nulls_first()
