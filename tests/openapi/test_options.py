"""Plugin parameter parsing (protogw.openapi._options)."""

from __future__ import annotations

from typing import Any

import pytest

from protogw.openapi import OptionError, Options, parse_parameter

CASES: list[tuple[str, dict[str, Any]]] = [
    ("", {}),
    ("json_names_for_fields=false", {"json_names_for_fields": False}),
    (
        "simple_operation_ids=true,disable_default_errors=1",
        {"simple_operation_ids": True, "disable_default_errors": True},
    ),
    ("allow_merge,merge_file_name=api", {"allow_merge": True, "merge_file_name": "api"}),
    ("output_format=yaml", {"output_format": "yaml"}),
    ("include_package_in_tags", {"include_package_in_tags": True}),
    ("openapi_naming_strategy=simple", {"openapi_naming_strategy": "simple"}),
    ("fqn_for_openapi_name=true", {"openapi_naming_strategy": "fqn"}),
    ("recursive-depth=3", {"recursive_depth": 3}),
    ("repeated_path_param_separator=pipes", {"repeated_path_param_separator": "pipes"}),
    (
        "visibility_restriction_selectors=A,visibility_restriction_selectors=B",
        {"visibility_restriction_selectors": ("A", "B")},
    ),
    # Accepted for compatibility and ignored, like the Go plugin does.
    ("logtostderr=true,Mfoo/bar.proto=example.com/foo,allow_repeated_fields_in_body=true", {}),
    ("enums_as_ints=T,omit_enum_default_value=F", {"enums_as_ints": True}),
    ("nullable_unset_messages", {"nullable_unset_messages": True}),
    ("expand_slashed_path_patterns=true", {"expand_slashed_path_patterns": True}),
    ("safe_path_param_names=false", {"safe_path_param_names": False}),
    (
        "grpc_api_configuration=a/api.yaml,openapi_configuration=a/openapi.yaml",
        {"grpc_api_configuration": "a/api.yaml", "openapi_configuration": "a/openapi.yaml"},
    ),
]


@pytest.mark.parametrize(("parameter", "changed"), CASES)
def test_parse(parameter: str, changed: dict[str, Any]) -> None:
    assert parse_parameter(parameter) == Options(**changed)


ERRORS = [
    ("bogus=1", "unknown option 'bogus'"),
    ("json_names_for_fields=maybe", "takes a boolean"),
    ("recursive-depth=deep", "takes an integer"),
    ("output_format=xml", "json or yaml"),
    ("repeated_path_param_separator=comma", "repeated_path_param_separator"),
    ("openapi_naming_strategy=short", "invalid naming strategy"),
    ("fqn_for_openapi_name,openapi_naming_strategy=simple", "cannot be combined"),
    ("use_go_templates=true", "not supported"),
]


@pytest.mark.parametrize(("parameter", "message"), ERRORS)
def test_errors(parameter: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_parameter(parameter)
