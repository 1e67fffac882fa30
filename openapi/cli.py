"""``protogw openapi``: write the OpenAPI document of a descriptor set.

This module only defines the command function; the main CLI mounts it with
``app.command("openapi")(openapi)``. Example::

    protogw openapi gen/descriptors/determined.binpb -o api.swagger.json \\
        --file determined/api/v1/api.proto --simple-operation-ids --disable-service-tags
    protogw openapi gen/descriptors/determined.binpb --format openapiv3 -o api.openapi.json

``--format`` picks the document: ``json`` or ``yaml`` (OpenAPI 2.0, protoc-gen-openapiv2's options) or
``openapiv3`` (OpenAPI 3.1 JSON, protoc-gen-openapiv3's options; ``--option`` takes those then).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated

import typer

from protogw.core.descriptors import DescriptorError
from protogw.openapi import (
    OptionError,
    Options,
    dumps,
    dumps_v3,
    generate,
    generate_v3,
    parse_parameter,
    parse_parameter_v3,
    read_descriptor_set,
)

__all__ = ["openapi"]


def openapi(
    descriptor_set: Annotated[
        Path, typer.Argument(help="FileDescriptorSet built with --include_imports --include_source_info.")
    ],
    output: Annotated[
        str, typer.Option("--output", "-o", help="File to write, '-' for stdout; a directory with --no-merge.")
    ] = "-",
    files: Annotated[
        list[str] | None,
        typer.Option("--file", "-f", help="Proto file to document (repeatable); default: every file with a service."),
    ] = None,
    merge: Annotated[bool, typer.Option(help="Merge every file into one document, as allow_merge does.")] = True,
    output_format: Annotated[
        str, typer.Option("--format", help="json or yaml (OpenAPI 2.0), or openapiv3 (OpenAPI 3.1 JSON).")
    ] = "json",
    simple_operation_ids: Annotated[
        bool, typer.Option(help="operationId is the method name, without the service.")
    ] = False,
    json_names: Annotated[bool, typer.Option(help="Name fields and parameters by their JSON names.")] = True,
    disable_default_errors: Annotated[bool, typer.Option(help="No default rpcStatus error response.")] = False,
    disable_service_tags: Annotated[
        bool, typer.Option(help="No tag per service (operations keep the tags of their options).")
    ] = False,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", help="Any protoc-gen-openapiv2 (or, with openapiv3, -v3) parameter as name=value (repeatable)."
        ),
    ] = None,
) -> None:
    """Generate the OpenAPI v2 (Swagger) or 3.1 document of the services in a descriptor set."""
    if output_format == "openapiv3":
        _openapiv3(descriptor_set, output, files, merge, disable_default_errors, option or [])
        return
    try:
        opts = parse_parameter(",".join(option or []))
        opts = dataclasses.replace(
            opts,
            allow_merge=merge,
            output_format=output_format,  # type: ignore[arg-type]
            simple_operation_ids=simple_operation_ids or opts.simple_operation_ids,
            json_names_for_fields=json_names and opts.json_names_for_fields,
            disable_default_errors=disable_default_errors or opts.disable_default_errors,
            disable_service_tags=disable_service_tags or opts.disable_service_tags,
        )
        docs = generate(read_descriptor_set(descriptor_set), files or None, opts)
    except (DescriptorError, OptionError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _write(docs, opts, output)


def _write(docs: dict[str, dict[str, object]], opts: Options, output: str) -> None:
    if output == "-":
        for doc in docs.values():
            sys.stdout.write(dumps(doc, opts.output_format))
        return
    target = Path(output)
    if opts.allow_merge:
        ((_, doc),) = docs.items()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dumps(doc, opts.output_format))
        return
    for name, doc in docs.items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(doc, opts.output_format))


def _openapiv3(
    descriptor_set: Path,
    output: str,
    files: list[str] | None,
    merge: bool,
    disable_default_errors: bool,
    option: list[str],
) -> None:
    try:
        opts = parse_parameter_v3(",".join(option))
        opts = dataclasses.replace(
            opts, allow_merge=merge, disable_default_errors=disable_default_errors or opts.disable_default_errors
        )
        docs = generate_v3(read_descriptor_set(descriptor_set), files or None, opts)
    except (DescriptorError, OptionError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if output == "-":
        for doc in docs.values():
            sys.stdout.write(dumps_v3(doc) + "\n")
        return
    target = Path(output)
    for name, doc in docs.items():
        path = target if merge else target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps_v3(doc))
