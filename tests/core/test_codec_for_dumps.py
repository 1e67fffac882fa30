"""``codec_for_dumps``: the items of repeated message fields written from their remembered JSON
(``orjson.Fragment``) once seen - the same bytes as ``codec_for``'s values, on every read."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import given

from protogw.core.codec import JsonOptions, codec_for, codec_for_dumps, dumps
from protogw.core.codec._api import new_compiler
from protogw.core.codec._compiled import CompiledCodec, Compiler
from protogw.core.codec._memo import WireMemo
from tests.core.test_codec import KITCHEN_TYPES, OPTION_SETS, SETTINGS, messages

ROOT = Path(__file__).resolve().parents[2]


def _remembering_everything(options: JsonOptions) -> Compiler:
    """A compiler like ``codec_for_dumps``'s whose memo keeps every item, however small (the public
    one skips items under 256 bytes, which most generated examples are)."""
    return new_compiler(options, WireMemo(entries=100_000, budget=1 << 30, max_bytes=1 << 20))


COMPILERS = {options: _remembering_everything(options) for options in OPTION_SETS}


@pytest.mark.parametrize("desc", KITCHEN_TYPES, ids=lambda d: d.full_name)
def test_remembered_items_give_the_same_bytes(desc: Descriptor) -> None:
    """First read (items remembered), second and third (items written from the memo): the bytes of
    ``codec_for``'s value every time, under every option set."""

    @SETTINGS
    @given(messages(desc))
    def check(message: Message) -> None:
        for options, compiler in COMPILERS.items():
            expected = dumps(codec_for(desc, options).encode(message))
            remembering = CompiledCodec(desc, compiler)
            for _ in range(3):
                assert dumps(remembering.encode(message)) == expected

    check()


def _listing_page() -> Message:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from codec_bench import _demo_page  # the seeded demo's shape: ~2.5 KB per experiment
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return _demo_page()


def test_a_listing_is_written_from_remembered_items_and_follows_changes() -> None:
    page = _listing_page()
    desc = page.DESCRIPTOR
    plain, compact = codec_for(desc), codec_for_dumps(desc)
    expected = dumps(plain.encode(page))
    # The memo's lane rests through a streak of misses (a first read of 100 new items), so the last
    # items are remembered on a later read; by the third, every item comes from the memo.
    reads = [compact.encode(page) for _ in range(3)]
    assert all(dumps(read) == expected for read in reads)
    assert all(isinstance(item, orjson.Fragment) for item in reads[-1]["experiments"])
    # A changed item is a new wire form: encoded afresh, never the old text.
    page.experiments[3].name = "renamed"  # type: ignore[attr-defined]
    changed = compact.encode(page)
    assert not isinstance(changed["experiments"][3], orjson.Fragment)
    assert dumps(changed) == dumps(plain.encode(page))
    assert b'"renamed"' in dumps(changed)


def _twin_types() -> tuple[type[Message], type[Message], type[Message]]:
    """Two message types with the same wire form and different JSON names, and a parent listing both."""
    file = descriptor_pb2.FileDescriptorProto(name="twins.proto", package="twins", syntax="proto3")
    for name, field in (("A", "alpha"), ("B", "beta")):
        message = file.message_type.add(name=name)
        message.field.add(name=field, number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    parent = file.message_type.add(name="Parent")
    for number, (name, type_name) in enumerate((("as", ".twins.A"), ("bs", ".twins.B")), start=1):
        parent.field.add(
            name=name,
            number=number,
            type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
            label=descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
            type_name=type_name,
        )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return tuple(GetMessageClass(pool.FindMessageTypeByName(f"twins.{n}")) for n in ("A", "B", "Parent"))  # type: ignore[return-value]


def test_two_types_with_one_wire_form_keep_their_own_json() -> None:
    a, b, parent_class = _twin_types()
    text = "x" * 300  # over the memo's smallest item
    parent = parent_class(**{"as": [a(alpha=text)], "bs": [b(beta=text)]})
    assert parent.SerializeToString().count(a(alpha=text).SerializeToString()) == 2
    compact = codec_for_dumps(parent.DESCRIPTOR)
    for _ in range(3):
        assert orjson.loads(dumps(compact.encode(parent))) == {"as": [{"alpha": text}], "bs": [{"beta": text}]}
