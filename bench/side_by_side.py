"""Hand-written and framework sagas run at the same time, so the host's speed changes reach both.

Usage: python -m bench.side_by_side [--in-flight 200] [--warmup 60] [--window 120]
                                    [--rounds 4] [--paths compensating,happy]
                                    [--aa | --headers-only] [--passthrough]

`bench.saga_overhead` runs the two variants one batch after the other. On a host that
changes its cores' speed from one minute to the next, a round's two batches run at
different speeds, and its ratio carries that change: identical batches minutes apart have
differed by 20% and more. Here the two variants run at the same moment instead, each in
a process of its own with its own in-memory dev server and worker, the four processes
sharing the machine's cores:

- each side keeps ``--in-flight`` sagas running: a saga that closes is replaced by a new
  one (a closed loop), so both sides stay saturated from start to end;
- the sides start their first sagas over the first half of ``--warmup`` seconds; after
  it, long enough for the loop to settle, each side counts the sagas that close during
  ``--window`` seconds, with its own CPU and its dev server's over that window;
- both sides always have work waiting, so the scheduler gives each about half the
  machine, but not exactly: the side whose sagas cost more has more to run at any moment
  and gets a little more (2-4% in the first runs). So each side's count is divided by the
  cores it kept busy (its own CPU and its server's over the window), and the ratio of
  those rates is the throughput ratio framework/hand-written: what each would do with the
  same share of the machine, as a batch that has the whole machine does. A change in the
  cores' speed reaches both sides at once and cancels out of the ratio.

``--aa`` runs the hand-written saga on both sides: its ratios show what is left of the
noise, and that neither side is favoured. ``--headers-only`` puts on the framework's side
the hand-written saga carrying the lean engine's activity ids and step headers, and
nothing else of the engine: what those bytes cost, apart from the engine's code. By
default the framework side runs the lean engine (``audit_log=False,
search_attributes=False``, started like the hand-written saga), the like-for-like
comparison. Results go to bench/results/side_by_side-<time>.json; the last
line printed is the throughput ratio over every round (``ratio=0.97``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import saga_overhead
from bench.pooled import (
    IMPORTED_AGAIN,
    PASSED_THROUGH,
    SEED,
    median_interval,
    per_core_rate,
    round_pairs,
)
from bench.provenance import RESULTS, write_result
from bench.workloads import HandWrittenSagaAgain, HandWrittenSagaWithHeaders, Order

#: How long a side may take to start its dev server and warm its worker up.
STARTUP_LIMIT_S = 300.0


# -- one side (a child process) ------------------------------------------------------------


async def run_side(
    variant: str, path: str, in_flight: int, warmup: float, window: float, signal_dir: Path
) -> dict[str, Any]:
    """Start a server and worker, wait for the go, keep ``in_flight`` sagas running, count.

    Writes ``<variant>.ready`` into ``signal_dir`` once warmed up, then waits for the file
    ``go`` there, which holds the wall-clock time both sides start at.
    """
    fail = path == "compensating"
    wf = saga_overhead.VARIANTS[variant]
    async with saga_overhead.bench_worker() as (client, queue):
        start_at = await asyncio.to_thread(_ready_then_go, signal_dir, variant)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        t0 = time.monotonic()
        begin, end = t0 + warmup, t0 + warmup + window
        closed: list[float] = []
        last: list[Any] = []
        waiters = asyncio.Semaphore(saga_overhead.WAITERS)

        async def loop(index: int) -> None:
            # Spread the first starts over half the warm-up: sagas started all at once
            # would close in waves, and a wave at the window's edge would sway its count.
            await asyncio.sleep(index * warmup / (2 * in_flight))
            while time.monotonic() < end:
                order = Order(
                    key=f"{variant}-{uuid.uuid4().hex[:10]}",
                    fail_at=2 if fail else None,
                    lean=saga_overhead.START["lean"],
                )
                handle = await saga_overhead._one(client, wf, order, queue, waiters)
                closed.append(time.monotonic())
                last[:] = [handle]

        loops = [asyncio.create_task(loop(i)) for i in range(in_flight)]
        await asyncio.sleep(begin - time.monotonic())
        cpu0, server0 = saga_overhead._cpu(), saga_overhead._server_cpu()
        await asyncio.sleep(end - time.monotonic())
        cpu, server = saga_overhead._cpu() - cpu0, saga_overhead._server_cpu() - server0
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        events = len((await last[0].fetch_history()).events) if last else 0
    count = sum(begin <= at < end for at in closed)
    return {
        "variant": variant,
        "workflow": wf.__name__,
        "path": path,
        "in_flight": in_flight,
        "window_s": window,
        "closed": count,
        "sagas_per_s": count / window,
        "cpu_ms_per_saga": 1000 * cpu / count if count else None,
        "server_cpu_ms_per_saga": 1000 * server / count if count else None,
        # Cores this side kept busy: about half the machine when the sides share fairly.
        "cores_busy": (cpu + server) / window,
        "history_events": events,
    }


def _ready_then_go(signal_dir: Path, variant: str) -> float:
    """Say this side is ready, then wait for the start time both sides share."""
    (signal_dir / f"{variant}.ready").touch()
    go = signal_dir / "go"
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"no start signal in {go} after {STARTUP_LIMIT_S:.0f} s")
        time.sleep(0.2)
    return float(go.read_text())


# -- both sides (the parent process) -------------------------------------------------------


def run_round(
    path: str, *, in_flight: int, warmup: float, window: float, flags: list[str], first: str
) -> dict[str, dict[str, Any]]:
    """Both sides of one round, started together; their result rows by variant."""
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as tmp:
        signals = Path(tmp)
        order = ["hand", "framework"] if first == "hand" else ["framework", "hand"]
        sides = {
            variant: _spawn(variant, path, in_flight, warmup, window, flags, signals)
            for variant in order
        }
        try:
            _wait_until_ready(sides, signals)
            # Both sides start at the same wall-clock moment, a little after this write.
            (signals / "go.tmp").write_text(repr(time.time() + 2.0))
            (signals / "go.tmp").rename(signals / "go")
            limit = warmup + window + STARTUP_LIMIT_S
            for variant, (proc, _log) in sides.items():
                if proc.wait(timeout=limit) != 0:
                    raise RuntimeError(f"the {variant} side failed:\n{_tail(signals, variant)}")
            return {
                variant: json.loads((signals / f"{variant}.json").read_text()) for variant in sides
            }
        finally:
            for proc, log in sides.values():
                if proc.poll() is None:
                    proc.kill()
                log.close()


def _spawn(
    variant: str,
    path: str,
    in_flight: int,
    warmup: float,
    window: float,
    flags: list[str],
    signals: Path,
) -> tuple[subprocess.Popen[bytes], Any]:
    # The child's output (the dev server's log included) goes to a file, never a pipe
    # that nobody reads while the sagas run.
    log = (signals / f"{variant}.log").open("wb")
    cmd = [
        sys.executable, "-m", "bench.side_by_side", "--side", variant, "--path", path,
        "--in-flight", str(in_flight), "--warmup", str(warmup), "--window", str(window),
        "--signals", str(signals), *flags,
    ]  # fmt: skip
    root = Path(__file__).resolve().parent.parent
    return subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT), log


def _wait_until_ready(sides: dict[str, Any], signals: Path) -> None:
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while not all((signals / f"{variant}.ready").exists() for variant in sides):
        for variant, (proc, _log) in sides.items():
            if proc.poll() is not None:
                raise RuntimeError(f"the {variant} side exited early:\n{_tail(signals, variant)}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sides were not ready after {STARTUP_LIMIT_S:.0f} s")
        time.sleep(0.2)


def _tail(signals: Path, variant: str) -> str:
    with contextlib.suppress(OSError):
        return "\n".join((signals / f"{variant}.log").read_text().splitlines()[-20:])
    return "(no log)"


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per path, the rounds' framework/hand-written ratios: median, range, 95% interval."""
    by_path: dict[str, dict[str, Any]] = {}
    rng = random.Random(SEED)
    # Paired as the batch runs' rounds are; every round of a run had the same sagas in flight.
    sized = ({**row, "n": row.get("in_flight", 0)} for row in rows)
    for (_n, path), pairs in round_pairs(sized).items():
        throughput = [per_core_rate(fw) / per_core_rate(hand) for hand, fw in pairs]
        closed = [fw["closed"] / hand["closed"] for hand, fw in pairs]
        cpu = [fw["cpu_ms_per_saga"] / hand["cpu_ms_per_saga"] for hand, fw in pairs]
        server = [
            fw["server_cpu_ms_per_saga"] / hand["server_cpu_ms_per_saga"]
            for hand, fw in pairs
            if hand["server_cpu_ms_per_saga"]
        ]
        by_path[path] = {
            "rounds": len(pairs),
            "throughput_ratio": statistics.median(throughput),
            "throughput_ratio_range": [min(throughput), max(throughput)],
            "throughput_ratio_interval": list(median_interval(throughput, rng)),
            # Before the per-core correction: what the two sides closed in the window.
            "closed_ratio": statistics.median(closed),
            "cpu_ratio": statistics.median(cpu),
            "cpu_ratio_range": [min(cpu), max(cpu)],
            "server_cpu_ratio": statistics.median(server) if server else None,
            "extra_events": pairs[0][1]["history_events"] - pairs[0][0]["history_events"],
        }
    hand_total = sum(per_core_rate(r) for r in rows if r["variant"] == "hand")
    fw_total = sum(per_core_rate(r) for r in rows if r["variant"] == "framework")
    return {"by_path": by_path, "throughput_ratio": fw_total / hand_total if hand_total else None}


def main(args: argparse.Namespace, results: Path = RESULTS) -> Path:
    """Run every round, print each, write the result file; returns its path."""
    flags = [
        flag
        for flag, on in (
            ("--aa", args.aa),
            ("--headers-only", args.headers_only),
            ("--passthrough", args.passthrough),
        )
        if on
    ]
    rows: list[dict[str, Any]] = []
    for path in args.paths.split(","):
        for round_ in range(args.rounds):
            sides = run_round(
                path,
                in_flight=args.in_flight,
                warmup=args.warmup,
                window=args.window,
                flags=flags,
                first=saga_overhead.turn_order(round_)[0],
            )
            for variant in ("hand", "framework"):
                row = {**sides[variant], "round": round_}
                rows.append(row)
                print(_describe(row), flush=True)
    summary = summarise(rows)
    meta = {
        "steps": 3,
        "framework_lean": not (args.aa or args.headers_only),
        "workflow_module": PASSED_THROUGH if args.passthrough else IMPORTED_AGAIN,
        "baseline": "HandWrittenSaga",
        "candidate": _candidate(args).__name__,
        "in_flight": args.in_flight,
        "warmup_s": args.warmup,
        "window_s": args.window,
        "server": "one fresh dev server and worker per side and round, both sides at once",
        "ratios": "median of per-round framework/hand-written ratios of sagas closed in the "
        "window per core busy (closed_ratio: not per core)",
    }
    out = write_result("side_by_side", {**meta, "rows": rows, "summary": summary}, results)
    for path, case in summary["by_path"].items():
        low, high = case["throughput_ratio_interval"]
        print(
            f"{path}: ratio={case['throughput_ratio']:.3f} [{low:.3f}, {high:.3f}] "
            f"closed_ratio={case['closed_ratio']:.3f} "
            f"cpu_ratio={case['cpu_ratio']:.3f} "
            f"server_cpu_ratio={saga_overhead._format(case['server_cpu_ratio'])} "
            f"extra_events={case['extra_events']} rounds={case['rounds']}"
        )
    print(f"results: {out}")
    print(f"ratio={summary['throughput_ratio']:.2f}")
    return out


def _describe(row: dict[str, Any]) -> str:
    return (
        f"round {row['round']} {row['path']:<12} {row['workflow']:>20}: "
        f"{row['closed']:5} closed, {row['sagas_per_s']:6.2f}/s, "
        f"cpu={row['cpu_ms_per_saga'] or 0:6.2f}ms "
        f"server_cpu={row['server_cpu_ms_per_saga'] or 0:6.2f}ms "
        f"cores_busy={row['cores_busy']:.2f} events={row['history_events']}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--in-flight", type=int, default=200)
    parser.add_argument("--warmup", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--paths", default="compensating,happy")
    parser.add_argument("--aa", action="store_true", help="the hand-written saga on both sides")
    parser.add_argument(
        "--headers-only",
        action="store_true",
        help="candidate: the hand-written saga with the engine's activity ids and step headers",
    )
    parser.add_argument(
        "--passthrough",
        action="store_true",
        help="pass the workflow module through the sandbox instead of importing it per saga",
    )
    # One side's own options, set by the parent process.
    parser.add_argument("--side", choices=["hand", "framework"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--signals", type=Path, help=argparse.SUPPRESS)
    return parser


def _candidate(args: argparse.Namespace) -> Any:
    if args.aa:
        return HandWrittenSagaAgain
    if args.headers_only:
        return HandWrittenSagaWithHeaders
    return saga_overhead.VARIANTS["framework"]


def _side_main(args: argparse.Namespace) -> int:
    saga_overhead.VARIANTS["framework"] = _candidate(args)
    saga_overhead.START["plain"] = saga_overhead.START["lean"] = True
    if args.passthrough:
        saga_overhead.PASSTHROUGH.append("bench")
    saga_overhead._configure_logs("off")
    row = asyncio.run(
        run_side(args.side, args.path, args.in_flight, args.warmup, args.window, args.signals)
    )
    (args.signals / f"{args.side}.json").write_text(json.dumps(row))
    return 0


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if arguments.side:
        code = _side_main(arguments)
    else:
        main(arguments)
        code = 0
    sys.stdout.flush()
    # Processes that created a temporalio Client may abort at exit (DESIGN.md, known traps).
    os._exit(code)
