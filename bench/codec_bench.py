"""Benchmark (not a test): the compiled codec against json_format, measured side by side in one run.

Prints, per message and direction, the time per operation of:

* encode: ``orjson.dumps(codec.encode(m))`` against ``json_format.MessageToJson(m)`` and against
  ``orjson.dumps(json_format.MessageToDict(m))``; for the pages, ``compact`` as well: the same with
  ``codec_for_dumps`` (what REST bodies are written with: a page's items seen before come from their
  remembered JSON);
* decode: ``codec.decode(orjson.loads(b))`` against ``json_format.Parse(b)`` and against
  ``json_format.ParseDict(orjson.loads(b))``;

and the ratios (goal: <= 0.25 in both directions), plus the binary protobuf figures for scale.
The codec remembers the JSON of Struct fields it has encoded (``struct_memo``), so encoding the same
message again is its warm case; a ``cold`` encode line follows for messages with Structs, cycling
through copies whose every Struct is new to the memo (enough of them that none is still remembered when
it comes round again), so each encode is a first read: every Struct misses.
Messages: the Determined ``Experiment`` and a 100-item ``GetExperimentsResponse`` page, then a page
shaped like the seeded demo's (three times the Struct values per experiment).

``--against REV`` also measures the codec as it was at git revision REV (its ``core/codec`` extracted
to a temporary package), interleaved with the rest, and prints before/after: on a shared box that is
the only comparison worth making. ``--page`` measures the two pages only.

Run: ``.venv/bin/python bench/codec_bench.py [--quick] [--page] [--against REV]``.
"""

from __future__ import annotations

import importlib
import io
import itertools
import subprocess
import sys
import tarfile
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from protogw.core.codec import JsonOptions, codec_for, codec_for_dumps
from protogw.core.codec._memo import MEMO_PROBE_EVERY
from protogw.core.codec._runtime import STRUCT_MEMO_ENTRIES

# Same output as json_format with always_print_fields_with_no_presence=True, so the work is equal.
OPTIONS = JsonOptions(unset_message_as_null=False)


def _determined_samples() -> tuple[Message, ...]:
    from google.protobuf import struct_pb2, timestamp_pb2, wrappers_pb2

    from protogw.gen.determined.api.v1 import experiment_pb2 as api
    from protogw.gen.determined.api.v1 import pagination_pb2
    from protogw.gen.determined.experiment.v1 import experiment_pb2 as exp

    def one(i: int, structs: bool = True) -> exp.Experiment:
        hparams = struct_pb2.Struct()
        hparams.update({"learning_rate": 0.001 * (i % 7 + 1), "layers": 4, "dropout": 0.25, "optimizer": "adam"})
        config = struct_pb2.Struct()
        config.update(
            {
                "name": f"mnist-{i}",
                "entrypoint": "model_def:Trial",
                "searcher": {"name": "single", "metric": "validation_loss", "max_length": {"batches": 1000}},
                "resources": {"slots_per_trial": 1, "resource_pool": "default"},
                "hyperparameters": {"learning_rate": 0.001, "layers": 4},
                "labels": ["vision", "baseline"],
            }
        )
        return exp.Experiment(
            id=i,
            description=f"experiment number {i}",
            labels=["vision", "baseline"],
            start_time=timestamp_pb2.Timestamp(seconds=1_700_000_000 + i, nanos=123_000_000),
            state=exp.State.Value("STATE_COMPLETED"),
            num_trials=3,
            display_name=f"Experiment {i}",
            user_id=7,
            username="determined",
            resource_pool="default",
            searcher_type="single",
            searcher_metric="validation_loss",
            hyperparameters=hparams if structs else None,
            name=f"mnist-{i}",
            job_id=f"job-{i:08d}",
            progress=wrappers_pb2.DoubleValue(value=0.5),
            project_id=1,
            project_name="Uncategorized",
            workspace_id=1,
            workspace_name="Uncategorized",
            config=config if structs else None,
            original_config="name: mnist\nentrypoint: model_def:Trial\n",
            project_owner_id=1,
            checkpoint_size=123_456_789,
            checkpoint_count=2,
            best_trial_searcher_metric=0.0421,
        )

    page = api.GetExperimentsResponse(
        experiments=[one(i) for i in range(1, 101)],
        pagination=pagination_pb2.Pagination(offset=0, limit=100, start_index=0, end_index=100, total=1000),
    )
    return one(1, structs=False), one(1), page, _demo_page()


def _demo_page() -> Message:
    """A 100-experiment page shaped like the one ``protogw seed --demo`` serves: configs with a nested
    Struct per hyperparameter, numbers stored as doubles, a searcher block, the original config text;
    about three times the Struct values per experiment of the synthetic page."""
    from google.protobuf import struct_pb2, timestamp_pb2, wrappers_pb2

    from protogw.gen.determined.api.v1 import experiment_pb2 as api
    from protogw.gen.determined.api.v1 import pagination_pb2
    from protogw.gen.determined.experiment.v1 import experiment_pb2 as exp

    def one(i: int) -> exp.Experiment:
        hyperparameters = {
            "global_batch_size": {"val": 128.0, "type": "const"},
            "learning_rate": {"base": 10.0, "maxval": -1.0, "type": "log", "minval": -5.0 - i % 3},
            "layers": {"maxval": 8.0, "type": "int", "minval": 2.0},
            "optimizer": {"type": "categorical", "vals": ["adam", "sgd", "adamw"]},
            "dropout": {"maxval": 0.5, "type": "double", "minval": 0.0},
        }
        config = {
            "description": f"Reproduce t5-summarize results ({i}% data)",
            "entrypoint": "model_def:Trial",
            "name": f"t5-summarize-t5-small-{i}",
            "labels": [],
            "resources": {"slots_per_trial": 8.0, "resource_pool": "gpu-t4"},
            "hyperparameters": hyperparameters,
            "checkpoint_storage": {"host_path": "/tmp/checkpoints", "save_trial_best": 1.0, "type": "shared_fs"},
            "searcher": {
                "max_trials": 32.0,
                "metric": "validation_error",
                "name": "adaptive_asha",
                "max_length": {"batches": 1000.0},
                "smaller_is_better": True,
            },
            "max_restarts": 5.0,
        }
        config_struct, hyperparameters_struct = struct_pb2.Struct(), struct_pb2.Struct()
        config_struct.update(config)
        hyperparameters_struct.update(hyperparameters)
        return exp.Experiment(
            id=i,
            description=config["description"],
            start_time=timestamp_pb2.Timestamp(seconds=1_752_266_017 + 3600 * i),
            state=exp.State.Value("STATE_ACTIVE"),
            num_trials=20,
            username="carol",
            resource_pool="gpu-t4",
            searcher_type="adaptive_asha",
            name=config["name"],
            job_id=f"e61a441c-12e0-48b2-bad6-{i:012d}",
            progress=wrappers_pb2.DoubleValue(value=0.282),
            display_name="Carol D\u00edaz",
            user_id=5,
            project_id=3,
            project_name="language",
            workspace_id=2,
            workspace_name="Demo",
            config=config_struct,
            original_config=repr(config),
            project_owner_id=3,
            checkpoint_size=6_399_665_251,
            checkpoint_count=7,
            searcher_metric="validation_error",
            hyperparameters=hyperparameters_struct,
        )

    return api.GetExperimentsResponse(
        experiments=[one(i) for i in range(1, 101)],
        pagination=pagination_pb2.Pagination(offset=0, limit=100, start_index=0, end_index=100, total=100),
    )


def _codec_at(revision: str) -> Any:
    """``core/codec`` at ``revision`` as a package of its own (its imports of itself renamed); the
    rest of ``protogw.core`` it uses is today's."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", revision, "core/codec"], capture_output=True, check=True
    ).stdout
    target = Path(tempfile.mkdtemp(prefix="codec-bench-"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    name = "protogw_codec_" + "".join(c for c in revision if c.isalnum())
    package = target / name
    (target / "core" / "codec").rename(package)
    for source in package.glob("*.py"):
        source.write_text(source.read_text().replace("protogw.core.codec", name))
    sys.path.insert(0, str(target))
    return importlib.import_module(name)


# CPU time of this process rather than wall time: the box is shared (2 cores, other work running), and
# time spent preempted would otherwise land on whichever contender was running at the moment.
_CLOCK = time.process_time


def _cold_copies(message: Message) -> list[Message]:
    """Copies of ``message`` whose Struct fields all differ from each other's and the original's,
    enough of them that cycling through them always misses the codec's Struct memo; empty when the
    message has no Struct."""
    structs = _structs_in(message)
    if not structs:
        return []
    # The memo inserts one Struct in MEMO_PROBE_EVERY once it rests: this many copies, and a
    # copy's Structs are long evicted before it comes round again.
    count = STRUCT_MEMO_ENTRIES * MEMO_PROBE_EVERY // len(structs) + 2
    copies = []
    for n in range(count):
        copy = type(message).FromString(message.SerializeToString())
        for i, struct in enumerate(_structs_in(copy)):
            struct.fields["benchCopy"].number_value = n * 1_000_000 + i
        copies.append(copy)
    return copies


def _structs_in(message: Message) -> list[struct_pb2.Struct]:
    """The Struct fields of ``message`` and of its (repeated) message fields, recursively."""
    if isinstance(message, struct_pb2.Struct):
        return [message]
    found: list[struct_pb2.Struct] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        for item in [value] if isinstance(value, Message) else value:  # a map gives its keys: skipped below
            if isinstance(item, Message):
                found.extend(_structs_in(item))
    return found


def _per_op(fns: list[Callable[[], Any]], budget: float, rounds: int = 40) -> list[float]:
    """Seconds per call of each function: the best of ``rounds`` rounds, the functions interleaved
    within each round so that load from other processes hits them alike. Many short rounds rather
    than a few long ones: on a shared box a long round always catches some other process's burst, so
    its figure (and the ratios) moved by 10-20% from run to run; the best of many short ones is what
    the code costs when it has the core."""
    numbers = []
    for fn in fns:
        number, elapsed = 1, 0.0
        while elapsed < budget / rounds:
            number *= 2
            elapsed = timeit.Timer(fn, timer=_CLOCK).timeit(number)
        numbers.append(number)
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for index, fn in enumerate(fns):
            best[index] = min(best[index], timeit.Timer(fn, timer=_CLOCK).timeit(numbers[index]) / numbers[index])
    return best


def main() -> None:
    args = sys.argv[1:]
    budget = 0.3 if "--quick" in args else 2.0
    baseline = _codec_at(args[args.index("--against") + 1]) if "--against" in args else None
    samples = _determined_samples()
    if "--page" in args:
        samples = samples[-2:]
    label = (
        "Determined Experiment (typed fields only; then with config + hyperparameters Structs) / "
        "GetExperimentsResponse(100) / the same, shaped like the seeded demo (Struct-heavy)"
    )
    print(f"messages: {label}; options: {OPTIONS}")
    header = f"{'message':<34}{'op':<8}{'compiled':>12}{'MessageToJson':>15}{'ratio':>8}{'ToDict+orjson':>15}{'ratio':>8}{'binary':>10}{'x bin':>7}"
    if baseline is not None:
        header += f"{'before':>12}{'ratio':>8}{'after/before':>14}"
    print(header)
    for message in samples:
        codec = codec_for(message.DESCRIPTOR, OPTIONS)
        cls = type(message)
        data = orjson.dumps(codec.encode(message))
        assert data == orjson.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))
        wire = message.SerializeToString()
        name = f"{message.DESCRIPTOR.name} ({len(data)} B)"
        encoders: list[Callable[[], Any]] = [
            lambda: orjson.dumps(codec.encode(message)),  # noqa: B023
            lambda: json_format.MessageToJson(message, always_print_fields_with_no_presence=True, indent=None),  # noqa: B023
            lambda: orjson.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True)),  # noqa: B023
            message.SerializeToString,
        ]
        decoders: list[Callable[[], Any]] = [
            lambda: codec.decode(orjson.loads(data)),  # noqa: B023
            lambda: json_format.Parse(data, cls()),  # noqa: B023
            lambda: json_format.ParseDict(orjson.loads(data), cls()),  # noqa: B023
            lambda: cls.FromString(wire),  # noqa: B023
        ]
        if baseline is not None:
            before = baseline.codec_for(message.DESCRIPTOR, baseline.JsonOptions(unset_message_as_null=False))
            assert orjson.dumps(before.encode(message)) == data
            encoders.append(lambda: orjson.dumps(before.encode(message)))  # noqa: B023
            decoders.append(lambda: before.decode(orjson.loads(data)))  # noqa: B023

        measured = [("encode", _per_op(encoders, budget)), ("decode", _per_op(decoders, budget))]
        if any(f.message_type is not None and f.is_repeated for f in message.DESCRIPTOR.fields):
            # What a REST body is written with (codec_for_dumps): the items of the page, seen before,
            # come from their remembered JSON. Same bytes.
            compact = codec_for_dumps(message.DESCRIPTOR, OPTIONS)
            for _ in range(3):
                assert orjson.dumps(compact.encode(message)) == data
            written = [lambda: orjson.dumps(compact.encode(message)), *encoders[1:]]  # noqa: B023
            measured.insert(1, ("compact", _per_op(written, budget)))
        copies = _cold_copies(message)
        if copies:
            cold, reference = itertools.cycle(copies), itertools.cycle(copies)

            def reference_json(source: Any = reference) -> bytes:
                return json_format.MessageToJson(next(source), always_print_fields_with_no_presence=True, indent=None)

            def reference_dict(source: Any = reference) -> bytes:
                return orjson.dumps(json_format.MessageToDict(next(source), always_print_fields_with_no_presence=True))

            cold_encoders: list[Callable[[], Any]] = [
                lambda: orjson.dumps(codec.encode(next(cold))),  # noqa: B023
                reference_json,
                reference_dict,
                message.SerializeToString,
            ]
            if baseline is not None:
                cold_encoders.append(lambda: orjson.dumps(before.encode(next(reference))))  # noqa: B023
            measured.insert(1, ("cold", _per_op(cold_encoders, budget)))
        for op, (ours, ref_json, ref_dict, binary, *old) in measured:
            line = (
                f"{name:<34}{op:<8}{ours * 1e6:>10.1f}us{ref_json * 1e6:>13.1f}us{ours / ref_json:>8.3f}"
                f"{ref_dict * 1e6:>13.1f}us{ours / ref_dict:>8.3f}{binary * 1e6:>8.2f}us{ours / binary:>7.0f}"
            )
            if old:
                line += f"{old[0] * 1e6:>10.1f}us{old[0] / ref_json:>8.3f}{ours / old[0]:>14.3f}"
            print(line)


if __name__ == "__main__":
    main()
