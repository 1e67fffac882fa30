"""Generator options, named and defaulted like protoc-gen-openapiv2's flags.

The protoc plugin receives them as one parameter string (``--openapiv2_out=a=b,c:dir`` or buf's
``opt:``); :func:`parse_parameter` turns that string into :class:`Options`::

    parse_parameter("json_names_for_fields=false,allow_merge,merge_file_name=api")
    -> Options(json_names_for_fields=False, allow_merge=True, merge_file_name="api", ...)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from protogw.openapi._v3_tables import OptionsV3

__all__ = ["OptionError", "Options", "parse_parameter", "parse_parameter_v3"]

OutputFormat = Literal["json", "yaml"]

_SEPARATORS = ("csv", "pipes", "ssv", "tsv")
_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})
# Flags the real plugin accepts only for compatibility with older setups; they change nothing here.
_NO_ALIASES: Mapping[str, str] = {}
_IGNORED = frozenset({"logtostderr", "allow_repeated_fields_in_body", "import_prefix", "file", "version"})


class OptionError(ValueError):
    """A plugin parameter is unknown or has a value of the wrong shape."""


@dataclass(frozen=True, slots=True)
class Options:
    """Every switch the generator honours. Defaults match protoc-gen-openapiv2."""

    json_names_for_fields: bool = True
    simple_operation_ids: bool = False
    disable_default_errors: bool = False
    disable_default_responses: bool = False
    disable_service_tags: bool = False
    include_package_in_tags: bool = False
    openapi_naming_strategy: str = "legacy"
    output_format: OutputFormat = "json"
    allow_merge: bool = False
    merge_file_name: str = "apidocs"
    enums_as_ints: bool = False
    omit_enum_default_value: bool = False
    ignore_comments: bool = False
    remove_internal_comments: bool = False
    proto3_optional_nullable: bool = False
    use_proto3_field_semantics: bool = False
    enable_rpc_deprecation: bool = False
    enable_field_deprecation: bool = False
    allow_delete_body: bool = False
    allow_patch_feature: bool = True
    preserve_rpc_order: bool = False
    repeated_path_param_separator: str = "csv"
    # protoc-gen-openapiv2 defaults to 1000 and then fails; expanding a self-referencing message once
    # and cutting the rest keeps the document usable.
    recursive_depth: int = 1
    generate_unbound_methods: bool = False
    expand_slashed_path_patterns: bool = False
    use_allof_for_refs: bool = False
    omit_array_item_type_when_ref_sibling: bool = False
    visibility_restriction_selectors: tuple[str, ...] = field(default_factory=tuple)
    # Not in protoc-gen-openapiv2 (which writes {book.name}): a path variable bound to a nested field
    # is named as one identifier, {bookName} ({book_name} without json_names_for_fields), which
    # client generators can map to an argument. False gives upstream's dotted names.
    safe_path_param_names: bool = True
    # Paths (relative to the working directory, as for the Go plugin) of a google.api.Service YAML
    # whose http.rules bind methods, and of a YAML file of openapiv2_* options (openapiOptions).
    grpc_api_configuration: str = ""
    openapi_configuration: str = ""
    # Not in protoc-gen-openapiv2: mark singular message fields x-nullable, because grpc-gateway's
    # default marshaler (EmitUnpopulated) writes an unset message as null and strict response
    # validators reject null for a plain $ref or scalar-typed well-known type.
    nullable_unset_messages: bool = False

    def __post_init__(self) -> None:
        if self.output_format not in ("json", "yaml"):
            raise OptionError(f"output_format must be json or yaml, not {self.output_format!r}")
        if self.repeated_path_param_separator not in _SEPARATORS:
            raise OptionError(f"repeated_path_param_separator must be one of {', '.join(_SEPARATORS)}")
        from protogw.openapi._naming import NAMING_STRATEGIES

        if self.openapi_naming_strategy.lower() not in NAMING_STRATEGIES:
            raise OptionError(f"invalid naming strategy {self.openapi_naming_strategy!r}")


def _parse_bool(name: str, value: str) -> bool:
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise OptionError(f"option {name} takes a boolean, not {value!r}")


def _parse_flags(
    parameter: str,
    options: type[Any],
    special: Callable[[str, bool, str], bool] = lambda *_: False,
    aliases: Mapping[str, str] = _NO_ALIASES,
) -> dict[str, object]:
    """The values of a plugin parameter string (comma-separated ``name[=value]``) for the fields of the
    dataclass ``options``, typed by each field's annotation; ``M`` mappings (Go package paths,
    meaningless outside Go) are skipped, ``visibility_restriction_selectors`` may repeat,
    ``special(name, has_value, value)`` takes a flag of its own first (True: consumed), and
    ``aliases`` names other spellings of fields."""
    fields = {f.name: f for f in dataclasses.fields(options)}
    values: dict[str, object] = {}
    selectors: list[str] = []
    for item in filter(None, parameter.split(",")):
        name, equals, value = item.partition("=")
        has_value = bool(equals)
        if (name.startswith("M") and has_value) or special(name, has_value, value):
            continue
        if name == "visibility_restriction_selectors":
            selectors.append(value)
            continue
        name = aliases.get(name, name)
        spec = fields.get(name)
        if spec is None:
            raise OptionError(f"unknown option {name!r}")
        if spec.type == "bool":
            values[name] = _parse_bool(name, value) if has_value else True
        elif spec.type == "int":
            try:
                values[name] = int(value)
            except ValueError:
                raise OptionError(f"option {name} takes an integer, not {value!r}") from None
        else:
            values[name] = value
    if selectors:
        values["visibility_restriction_selectors"] = tuple(selectors)
    return values


def parse_parameter(parameter: str) -> Options:
    """Parse a ``CodeGeneratorRequest.parameter`` string (comma-separated ``name[=value]``)."""
    fqn_flag = False

    def special(name: str, has_value: bool, value: str) -> bool:
        nonlocal fqn_flag
        if name in _IGNORED:
            return True
        if name == "fqn_for_openapi_name":
            fqn_flag = _parse_bool(name, value) if has_value else True
            return True
        if name == "use_go_templates":
            if not has_value or _parse_bool(name, value):
                raise OptionError("use_go_templates is not supported by this generator")
            return True
        return False

    values = _parse_flags(parameter, Options, special, {"recursive-depth": "recursive_depth"})
    if fqn_flag:
        if "openapi_naming_strategy" in values:
            raise OptionError("fqn_for_openapi_name cannot be combined with openapi_naming_strategy")
        values["openapi_naming_strategy"] = "fqn"
    return Options(**values)  # type: ignore[arg-type]


def parse_parameter_v3(parameter: str) -> OptionsV3:
    """The parameter string of ``protoc-gen-openapiv3``: its flags (``visibility_restriction_selectors``,
    repeatable, and ``disable_default_errors``), ``M`` mappings ignored, and protogw's additions."""
    from protogw.openapi._v3_tables import OptionsV3

    return OptionsV3(**_parse_flags(parameter, OptionsV3))  # type: ignore[arg-type]
