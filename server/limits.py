"""The domain's input rules, in one place: value ranges, NUL characters, and size limits.

Every check that decides whether a value is acceptable at all lives here, once, and both the store
(which guards every caller: servicers, seeding, imports) and the servicers (which must answer
``validateOnly`` exactly as a real create would) call the same functions. A failed check raises the
storage layer's ``InvalidArgument`` (INVALID_ARGUMENT / HTTP 400) with a message that names the
field.

Why these rules exist at all:

- **int32/int64 ranges**: SQLite stores any 64-bit integer where PostgreSQL's ``integer`` refuses;
  checking first gives one answer on both databases.
- **NUL characters**: PostgreSQL cannot store them in ``text`` or ``jsonb`` while SQLite would;
  refusing them up front gives one clear answer everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from protogw.server.storage.models import ExperimentPatch, ExperimentQuery, NewExperiment

#: Largest value an int32 field (ids, counters) can take; the database columns are 32-bit on PostgreSQL.
INT32_MAX = 2**31 - 1
#: Longest names, labels and similar short strings the database keeps (its VARCHAR(255) columns).
MAX_NAME = 255
#: GetExperiments' smallest meaningful limit (-2: pagination numbers only; -1: every row).
MIN_EXPERIMENT_LIMIT = -2


def invalid(message: str) -> Exception:
    """The domain's "the caller passed a bad value" error (INVALID_ARGUMENT)."""
    # Imported here, not at the top: the storage package imports this module while it initialises.
    from protogw.server.storage.errors import InvalidArgument

    return InvalidArgument(message)


# -- single values ---------------------------------------------------------------------------------


def reject_nul(values: Mapping[str, Any]) -> None:
    """Refuse text containing NUL characters (``values`` maps field names to values)."""
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise invalid(f"{name} must not contain NUL characters")


def reject_nul_json(name: str, value: Any) -> bytes:
    """``value`` must serialize to JSON (string keys only) without NUL characters; returns the JSON."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise invalid(f"{name} is not valid JSON: {exc}") from exc
    if b"\\u0000" in encoded:
        raise invalid(f"{name} must not contain NUL characters")
    return encoded


def check_int(name: str, values: Iterable[int | None], bits: int = 32) -> None:
    """Values must fit the signed ``bits``-wide integer fields they come from (None is skipped)."""
    limit = 2 ** (bits - 1)
    for value in values:
        if value is not None and not -limit <= value < limit:
            raise invalid(f"{name} is out of range: {value}")


def check_length(value: str, limit: int, what: str) -> str:
    """``value`` if it has at most ``limit`` characters, else a 400 naming ``what``."""
    if len(value) > limit:
        raise invalid(f"{what} must be at most {limit} characters")
    return value


def check_counters(values: Mapping[str, Any]) -> None:
    """An experiment's counters must fit their columns (int32, and int64 for ``checkpoint_size``)."""
    for name in ("num_trials", "checkpoint_count", "model_definition_size"):
        check_int(name, [values.get(name)])
    check_int("checkpoint_size", [values.get("checkpoint_size")], bits=64)


def check_experiment_limit(limit: int) -> None:
    """GetExperiments' ``limit``: -2, -1, 0 or positive (below -2 its window would end before it starts)."""
    if limit < MIN_EXPERIMENT_LIMIT:
        raise invalid(f"limit must be -2, -1, 0 or positive, got {limit}")


def unique_labels(labels: Iterable[str]) -> list[str]:
    """Labels without duplicates, first occurrence kept; an empty label is refused."""
    seen: dict[str, None] = {}
    for label in labels:
        if not label:
            raise invalid("labels must not be empty strings")
        reject_nul({"label": label})
        seen.setdefault(label, None)
    return list(seen)


def check_name(name: str | None) -> None:
    """An experiment name, when given, must have a non-blank character."""
    if name is not None and not name.strip():
        raise invalid("`name` must not be an empty or whitespace string")


def check_username(username: str | None) -> None:
    """A username, when given, must be non-empty and carry no surrounding whitespace."""
    if username is not None and (not username or username.strip() != username):
        raise invalid("username must be non-empty and have no surrounding whitespace")


# -- whole requests --------------------------------------------------------------------------------


def check_new_experiment(new: NewExperiment) -> list[str]:
    """Every rule a new experiment must pass before it is stored; returns its labels, deduplicated."""
    check_name(new.name)
    labels = unique_labels(new.labels)
    paths = [f.path for f in new.model_definition]
    if len(set(paths)) != len(paths):
        raise invalid("model definition has duplicate file paths")
    reject_nul(
        {
            "name": new.name,
            "description": new.description,
            "notes": new.notes,
            "original_config": new.original_config,
            "searcher_type": new.searcher_type,
            "searcher_metric": new.searcher_metric,
            "resource_pool": new.resource_pool,
            "job_id": new.job_id,
        }
    )
    for path in paths:
        reject_nul({"model definition path": path})
    reject_nul_json("config", new.config)
    reject_nul_json("hyperparameters", new.hyperparameters)
    check_counters(
        {
            "num_trials": new.num_trials,
            "checkpoint_count": new.checkpoint_count,
            "checkpoint_size": new.checkpoint_size,
            "model_definition_size": model_definition_size(new),
        }
    )
    return labels


def model_definition_size(new: NewExperiment) -> int:
    """The size recorded for ``new``'s model definition: as given, else the sum of its files."""
    if new.model_definition_size is not None:
        return new.model_definition_size
    return sum(len(f.content) for f in new.model_definition)


def check_experiment_patch(patch: ExperimentPatch) -> dict[str, Any]:
    """The column values ``patch`` sets (labels aside), checked."""
    check_name(patch.name)
    values: dict[str, Any] = {}
    for name in (
        "name",
        "description",
        "notes",
        "progress",
        "num_trials",
        "checkpoint_size",
        "checkpoint_count",
        "best_searcher_metric",
    ):
        if (value := getattr(patch, name)) is not None:
            values[name] = value
    reject_nul(values)
    check_counters(values)
    return values


def check_experiment_query(query: ExperimentQuery) -> None:
    """A GetExperiments query's filters and window must be answerable on both databases."""
    check_experiment_limit(query.limit)
    reject_nul({"name": query.name, "description": query.description})
    for label in query.labels:
        reject_nul({"label": label})
    for username in query.usernames:
        reject_nul({"username": username})
    check_int("user_ids", query.user_ids)
    check_int("offset", [query.offset])
    check_int("limit", [query.limit])
    if (f := query.id_filter) is not None:
        check_int("experiment_id_filter", [f.lt, f.lte, f.gt, f.gte, *f.incl, *f.not_in])
