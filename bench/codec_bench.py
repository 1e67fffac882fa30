"""Benchmark (not a test): the compiled codec against json_format, measured side by side in one run.

Prints, per message and direction, the time per operation of:

* encode: ``orjson.dumps(codec.encode(m))`` against ``json_format.MessageToJson(m)`` and against
  ``orjson.dumps(json_format.MessageToDict(m))``;
* decode: ``codec.decode(orjson.loads(b))`` against ``json_format.Parse(b)`` and against
  ``json_format.ParseDict(orjson.loads(b))``;

and the ratios (goal: <= 0.25 in both directions), plus the binary protobuf figures for scale.
Messages: the Determined ``Experiment`` and a 100-item ``GetExperimentsResponse`` page.

Run: ``.venv/bin/python bench/codec_bench.py [--quick]``.
"""

from __future__ import annotations

import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import Message

from protogw.core.codec import JsonOptions, codec_for

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
    return one(1, structs=False), one(1), page


# CPU time of this process rather than wall time: the box is shared (2 cores, other work running), and
# time spent preempted would otherwise land on whichever contender was running at the moment.
_CLOCK = time.process_time


def _per_op(fns: list[Callable[[], Any]], budget: float, rounds: int = 7) -> list[float]:
    """Seconds per call of each function: the best of ``rounds`` rounds, the functions interleaved
    within each round so that load from other processes hits them alike."""
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
    budget = 0.3 if "--quick" in sys.argv else 2.0
    samples = _determined_samples()
    label = "Determined Experiment (typed fields only; then with config + hyperparameters Structs) / GetExperimentsResponse(100)"
    print(f"messages: {label}; options: {OPTIONS}")
    print(
        f"{'message':<34}{'op':<8}{'compiled':>12}{'MessageToJson':>15}{'ratio':>8}{'ToDict+orjson':>15}{'ratio':>8}{'binary':>10}{'x bin':>7}"
    )
    for message in samples:
        codec = codec_for(message.DESCRIPTOR, OPTIONS)
        cls = type(message)
        data = orjson.dumps(codec.encode(message))
        assert data == orjson.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))
        wire = message.SerializeToString()
        name = f"{message.DESCRIPTOR.name} ({len(data)} B)"

        enc, enc_json, enc_dict, enc_bin = _per_op(
            [
                lambda: orjson.dumps(codec.encode(message)),  # noqa: B023
                lambda: json_format.MessageToJson(message, always_print_fields_with_no_presence=True, indent=None),  # noqa: B023
                lambda: orjson.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True)),  # noqa: B023
                message.SerializeToString,
            ],
            budget,
        )
        dec, dec_json, dec_dict, dec_bin = _per_op(
            [
                lambda: codec.decode(orjson.loads(data)),  # noqa: B023
                lambda: json_format.Parse(data, cls()),  # noqa: B023
                lambda: json_format.ParseDict(orjson.loads(data), cls()),  # noqa: B023
                lambda: cls.FromString(wire),  # noqa: B023
            ],
            budget,
        )

        for op, ours, ref_json, ref_dict, binary in (
            ("encode", enc, enc_json, enc_dict, enc_bin),
            ("decode", dec, dec_json, dec_dict, dec_bin),
        ):
            print(
                f"{name:<34}{op:<8}{ours * 1e6:>10.1f}us{ref_json * 1e6:>13.1f}us{ours / ref_json:>8.3f}"
                f"{ref_dict * 1e6:>13.1f}us{ours / ref_dict:>8.3f}{binary * 1e6:>8.2f}us{ours / binary:>7.0f}"
            )


if __name__ == "__main__":
    main()
