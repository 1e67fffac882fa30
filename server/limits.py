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
- **sizes** (``Limits``): no field a client sends may grow without bound (a 100 MB configuration
  would be stored, then sent back in every listing), and no filter may grow into something the
  database refuses (SQLite's LIKE pattern limit, PostgreSQL's 32,767 bind parameters). The defaults
  are documented in the README; the service takes a ``Limits`` in its constructor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sized
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from protogw.server.storage.models import ExperimentPatch, ExperimentQuery, NewExperiment, UserQuery

#: Largest value an int32 field (ids, counters) can take; the database columns are 32-bit on PostgreSQL.
INT32_MAX = 2**31 - 1
#: Longest names, labels and similar short strings the database keeps (its VARCHAR(255) columns).
MAX_NAME = 255
#: GetExperiments' smallest meaningful limit (-2: pagination numbers only; -1: every row).
MIN_EXPERIMENT_LIMIT = -2

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, slots=True)
class Limits:
    """How large each thing a client sends may be; every check below reads its limit from here.

    Sizes of text are in characters unless the name says bytes. The defaults fit any real
    Determined workload with a wide margin (a typical experiment configuration is a few KiB).
    """

    #: The experiment configuration: its YAML text, and the JSON it parses into (UTF-8 bytes each).
    max_config_bytes: int = 2 * MIB
    #: Values in a parsed configuration; YAML aliases can make a tiny text expand into a huge tree.
    max_config_nodes: int = 200_000
    #: The uploaded model definition files together (Determined's own default cap).
    max_model_definition_bytes: int = 96 * MIB
    #: An experiment's name.
    max_experiment_name: int = 1024
    #: An experiment's description.
    max_description: int = 10_000
    #: An experiment's notes (free text, usually Markdown).
    max_notes: int = 100_000
    #: Labels per experiment, and the length of one label (the database column holds 255).
    max_labels: int = 100
    max_label: int = MAX_NAME
    #: A password as sent (clear text or Determined's client-side hash).
    max_password: int = 1024
    #: A text filter of a listing (GetExperiments ``name``/``description``/``labels``/``users``,
    #: GetUsers ``name``).
    max_filter_length: int = 1000
    #: Values in one list filter of GetExperiments (``labels``, ``users``, ``userIds``,
    #: ``states``, ``experimentIdFilter.incl`` / ``notIn``).
    max_filter_values: int = 1000
    #: A GetExperiments page: once its experiments pass this many (protobuf) bytes the page ends
    #: early, and ``pagination.endIndex`` says where the next one starts. A page always holds at
    #: least one experiment.
    max_page_bytes: int = 3 * MIB


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()


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
        if "64-bit" in str(exc):
            raise invalid(f"{name} holds an integer beyond 64 bits") from exc
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


def check_bytes(size: int, limit: int, what: str) -> None:
    """A size in bytes within ``limit``, else a 400 naming ``what`` and the limit."""
    if size > limit:
        raise invalid(f"{what} is {size} bytes, over the limit of {limit} bytes")


def check_count(values: Sized, limit: int, what: str) -> None:
    """At most ``limit`` values, else a 400 naming ``what`` and the limit."""
    if len(values) > limit:
        raise invalid(f"{what} has {len(values)} values, over the limit of {limit}")


def check_config_text(text: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """An experiment configuration's YAML text, before it is parsed."""
    check_bytes(len(text.encode()), limits.max_config_bytes, "the experiment configuration")


def check_password(password: str, limits: Limits = DEFAULT_LIMITS) -> None:
    check_length(password, limits.max_password, "password")


def check_counters(values: Mapping[str, Any]) -> None:
    """An experiment's counters must fit their columns (int32, and int64 for ``checkpoint_size``)."""
    for name in ("num_trials", "checkpoint_count", "model_definition_size"):
        check_int(name, [values.get(name)])
    check_int("checkpoint_size", [values.get("checkpoint_size")], bits=64)


def check_experiment_limit(limit: int) -> None:
    """GetExperiments' ``limit``: -2, -1, 0 or positive (below -2 its window would end before it starts)."""
    if limit < MIN_EXPERIMENT_LIMIT:
        raise invalid(f"limit must be -2, -1, 0 or positive, got {limit}")


def unique_labels(labels: Iterable[str], limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Labels without duplicates, first occurrence kept; empty, too long or too many are refused."""
    seen: dict[str, None] = {}
    for label in labels:
        if not label:
            raise invalid("labels must not be empty strings")
        check_length(label, limits.max_label, "a label")
        reject_nul({"label": label})
        seen.setdefault(label, None)
    check_label_count(len(seen), limits)
    return list(seen)


def check_label_count(count: int, limits: Limits = DEFAULT_LIMITS) -> None:
    if count > limits.max_labels:
        raise invalid(f"labels: an experiment has at most {limits.max_labels} labels, got {count}")


def check_name(name: str | None, limits: Limits = DEFAULT_LIMITS) -> None:
    """An experiment name, when given, must have a non-blank character and fit its limit."""
    if name is not None:
        if not name.strip():
            raise invalid("`name` must not be an empty or whitespace string")
        check_length(name, limits.max_experiment_name, "`name`")


def check_username(username: str | None) -> None:
    """A username, when given, must be non-empty and carry no surrounding whitespace."""
    if username is not None and (not username or username.strip() != username):
        raise invalid("username must be non-empty and have no surrounding whitespace")


# -- whole requests --------------------------------------------------------------------------------


def check_new_experiment(new: NewExperiment, limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Every rule a new experiment must pass before it is stored; returns its labels, deduplicated.

    ``validateOnly`` creates and real creates both come through here, so they answer alike.
    """
    check_name(new.name, limits)
    labels = unique_labels(new.labels, limits)
    check_length(new.description, limits.max_description, "`description`")
    check_length(new.notes, limits.max_notes, "`notes`")
    check_config_text(new.original_config, limits)
    check_bytes(
        sum(len(f.content) for f in new.model_definition), limits.max_model_definition_bytes, "the model definition"
    )
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
    check_bytes(len(reject_nul_json("config", new.config)), limits.max_config_bytes, "the configuration as JSON")
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


def check_experiment_patch(patch: ExperimentPatch, limits: Limits = DEFAULT_LIMITS) -> dict[str, Any]:
    """The column values ``patch`` sets (labels aside), checked."""
    check_name(patch.name, limits)
    if patch.description is not None:
        check_length(patch.description, limits.max_description, "`description`")
    if patch.notes is not None:
        check_length(patch.notes, limits.max_notes, "`notes`")
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


def check_filter_text(value: str, field: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """A text filter: no NUL, and short enough for every database's LIKE."""
    check_length(value, limits.max_filter_length, f"the `{field}` filter")
    reject_nul({f"the `{field}` filter": value})


def check_experiment_query(query: ExperimentQuery, limits: Limits = DEFAULT_LIMITS) -> None:
    """A GetExperiments query's filters and window must be answerable on both databases.

    Every value of a list filter becomes a bind parameter, and PostgreSQL takes at most 32,767 of
    those in one statement; the counts are bounded well below that.
    """
    check_experiment_limit(query.limit)
    check_filter_text(query.name, "name", limits)
    check_filter_text(query.description, "description", limits)
    for field, values in (
        ("labels", query.labels),
        ("users", query.usernames),
        ("userIds", query.user_ids),
        ("states", query.states),
    ):
        check_count(values, limits.max_filter_values, f"the `{field}` filter")
    for label in query.labels:
        check_filter_text(label, "labels", limits)
    for username in query.usernames:
        check_filter_text(username, "users", limits)
    check_int("user_ids", query.user_ids)
    check_int("offset", [query.offset])
    check_int("limit", [query.limit])
    if (f := query.id_filter) is not None:
        check_count(f.incl, limits.max_filter_values, "the `experimentIdFilter.incl` filter")
        check_count(f.not_in, limits.max_filter_values, "the `experimentIdFilter.notIn` filter")
        check_int("experiment_id_filter", [f.lt, f.lte, f.gt, f.gte, *f.incl, *f.not_in])


def check_user_query(query: UserQuery, limits: Limits = DEFAULT_LIMITS) -> None:
    """A GetUsers query's ``name`` filter."""
    check_filter_text(query.name, "name", limits)
