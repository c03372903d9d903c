"""Where the framework's extra worker CPU goes: each engine feature switched off in turn.

Usage: python -m bench.overhead_breakdown [--n 300] [--rounds 4] [--path compensating]

Every configuration runs in a fresh process (so a switched-off feature cannot leak into
the next one) with its own dev server and worker, hand-written and framework sagas
interleaved as in `bench.saga_overhead`. The worker CPU per saga of each variant is the
median over the rounds; the framework's share is ``framework - hand``.

The switches are what-if measurements, made by replacing one engine function in the
benchmark process, not supported settings (except ``search_attributes=False``, which is
a real `Saga` option, and an audit log that is filtered out):

- ``no-audit-log``: the audit events are built and hash-chained but nothing is logged;
- ``no-audit-events``: the timeline is kept (the saga_state query needs it), but no
  audit event, hash or log line is made;
- ``no-step-header``: activities carry no step-context header (so `current_step()`,
  result checks and history inspection would not work);
- ``no-search-attributes``: no ``SagaName``/``SagaStatus`` upserts, started like the
  hand-written saga;
- ``none``: all of the above at once: what is left is the engine's bookkeeping.

Results go to bench/results/overhead_breakdown-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
from typing import Any

from bench.provenance import write_result

CONFIGS: dict[str, tuple[str, ...]] = {
    "full": (),
    "no-audit-log": ("log",),
    "no-audit-events": ("events",),
    "no-step-header": ("header",),
    "no-search-attributes": ("attributes",),
    "none": ("events", "header", "attributes"),
}


def _switch_off(features: tuple[str, ...]) -> None:
    """Patch the engine in this process so that ``features`` cost nothing."""
    from temporalio import workflow

    from bench import saga_overhead
    from temporal_sagas.workers import _interceptor
    from temporal_sagas.workflows import _runtime

    if "events" in features:

        def emit(
            self: Any, kind: Any, *, step: Any = None, detail: Any = None, failure: Any = None
        ) -> None:
            row = (kind.value, "", workflow.now(), step, self.ledger.status.value, detail, failure)
            self.ledger.timeline.append(row)

        _runtime.SagaRuntime.emit = emit
    if "header" in features:
        _interceptor._with_step = dict
    if "attributes" in features:

        def set_status(self: Any, status: Any) -> None:
            self.ledger.status = status

        _runtime.SagaRuntime.set_status = set_status
        _runtime.SagaRuntime.publish_start = lambda self: None
        saga_overhead.START["plain"] = True


async def _measure(n: int, rounds: int, fail: bool) -> dict[str, list[float]]:
    from bench import saga_overhead

    cpu: dict[str, list[float]] = {"hand": [], "framework": []}
    async with saga_overhead.bench_worker() as (client, queue):
        for r in range(rounds):
            for variant in saga_overhead.turn_order(r):
                row = await saga_overhead._batch(client, variant, n, 3, fail, queue)
                cpu[variant].append(row["cpu_ms_per_saga"])
    return cpu


def _child(config: str, n: int, rounds: int, fail: bool) -> None:
    """Run one configuration and print its CPU figures as one JSON line."""
    from bench import saga_overhead

    features = CONFIGS[config]
    saga_overhead._configure_logs("off" if "log" in features else "json")
    _switch_off(features)
    cpu = asyncio.run(_measure(n, rounds, fail))
    print(json.dumps({"config": config, "cpu_ms_per_saga": cpu}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="sagas per batch")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--path", choices=["happy", "compensating"], default="compensating")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    fail = args.path == "compensating"
    if args.child:
        _child(args.child, args.n, args.rounds, fail)
        return 0
    rows: list[dict[str, Any]] = []
    for config in args.configs.split(","):
        command = [sys.executable, "-m", "bench.overhead_breakdown", "--child", config]
        command += ["--n", str(args.n), "--rounds", str(args.rounds), "--path", args.path]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        cpu = json.loads(out.strip().splitlines()[-1])["cpu_ms_per_saga"]
        hand, framework = statistics.median(cpu["hand"]), statistics.median(cpu["framework"])
        row = {
            "config": config,
            "hand_ms": hand,
            "framework_ms": framework,
            "extra_ms": framework - hand,
            "cpu_ratio": framework / hand,
            "raw": cpu,
        }
        rows.append(row)
        print(
            f"{config:<22} hand={hand:6.2f}ms framework={framework:6.2f}ms "
            f"extra={framework - hand:5.2f}ms cpu_ratio={framework / hand:.3f}",
            flush=True,
        )
    meta = {"n": args.n, "rounds": args.rounds, "path": args.path}
    out_path = write_result("overhead_breakdown", {**meta, "rows": rows})
    print(f"results: {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
