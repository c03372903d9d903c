"""Pool the rounds of several benchmark runs, with a confidence interval.

Usage: python -m bench.pooled bench/results/saga_overhead-<time>.json [...]
       python -m bench.pooled bench/results/side_by_side-<time>.json [...]

The files are the ones `bench.saga_overhead` and `bench.side_by_side` write into the
(git-ignored) bench/results/ of the checkout that ran them.

On a shared 2-core machine one round's framework/hand-written ratio can stray by 10-20%,
so one run's median of 6 rounds can miss by a few percent. This pools the per-round
ratios of the given runs by comparison (A/A, lean engine, default engine, default engine
against the audited baseline) and case (sagas, path), and prints per case:

- the number of rounds and the median of their throughput and CPU ratios;
- a 95% bootstrap interval for each median (10,000 resamples of the rounds, a fixed seed,
  so the same files always print the same figures).

Pass the A/A runs too: their interval is the noise floor the others are read against.
Nothing is measured here and nothing is written.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.provenance import UNRECORDED

#: One round of a case: the hand-written batch's row and the framework batch's row.
Row2 = tuple[dict[str, Any], dict[str, Any]]

RESAMPLES = 10_000
SEED = 20261125


@dataclass(frozen=True)
class Pooled:
    """One comparison and case, pooled over every round of the runs given."""

    comparison: str
    n: int
    path: str
    rounds: int
    throughput: float
    throughput_interval: tuple[float, float]
    cpu: float
    cpu_interval: tuple[float, float]
    #: The code the pooled runs measured (`code_of`), in the order first seen.
    code: tuple[str, ...] = ()


#: How a result file's metadata (``workflow_module``) names the two set-ups.
PASSED_THROUGH, IMPORTED_AGAIN = "passed through", "imported again per saga"


def comparison(run: dict[str, Any]) -> str:
    """What a result file compared, from its own metadata."""
    name = _variants(run)
    if "in_flight" in run:  # `bench.side_by_side`: both variants at once, not in turn
        name = f"side by side, {name}"
    if run.get("workflow_module") == PASSED_THROUGH:
        return f"{name}, workflow module passed through"
    return name


def code_of(run: dict[str, Any]) -> str:
    """The commit a run measured, short, marked when the tree had changes on top of it."""
    commit = str(run.get("commit", UNRECORDED))
    short = commit if commit == UNRECORDED else commit[:7]
    return f"{short}+changes" if run.get("uncommitted_changes") else short


def _variants(run: dict[str, Any]) -> str:
    if run["candidate"] == "HandWrittenSagaAgain":
        return "A/A (hand-written against itself)"
    if run["candidate"] == "HandWrittenSagaWithHeaders":
        return "hand-written with the engine's ids and headers vs hand-written"
    if run["baseline"] == "HandWrittenAuditedSaga":
        return "default engine vs audited hand-written"
    if run.get("framework_lean"):
        return "lean engine vs hand-written"
    return "default engine vs hand-written"


def round_pairs(rows: Iterable[dict[str, Any]]) -> dict[tuple[int, str], list[Row2]]:
    """(hand-written, framework) rows of each complete round, by (sagas, path), in round order."""
    rounds: dict[tuple[int, str, int], dict[str, dict[str, Any]]] = {}
    for row in rows:
        rounds.setdefault((row["n"], row["path"], row["round"]), {})[row["variant"]] = row
    pairs: dict[tuple[int, str], list[Row2]] = {}
    for (n, path, _round), pair in sorted(rounds.items()):
        if {"hand", "framework"} <= pair.keys():
            pairs.setdefault((n, path), []).append((pair["hand"], pair["framework"]))
    return pairs


def round_ratios(run: dict[str, Any]) -> Iterable[tuple[int, str, float, float]]:
    """(sagas, path, throughput ratio, CPU ratio) for each complete round of one run.

    A `bench.side_by_side` run's sagas are the ones each side kept in flight.
    """
    rows = run["rows"]
    rate = per_core_rate if "in_flight" in run else _batch_rate
    if "in_flight" in run:
        rows = [{**row, "n": run["in_flight"]} for row in rows]
    for (n, path), pairs in round_pairs(rows).items():
        for hand, fw in pairs:
            yield (
                n,
                path,
                rate(fw) / rate(hand),
                fw["cpu_ms_per_saga"] / hand["cpu_ms_per_saga"],
            )


def per_core_rate(row: dict[str, Any]) -> float:
    """A `bench.side_by_side` side's sagas per second for each core it kept busy.

    The scheduler does not split the machine exactly in half between the two sides: the
    side with more work at a moment gets a little more of it. Per core busy, the two
    sides' rates compare as two batches that each had the whole machine do.
    """
    return float(row["sagas_per_s"]) / float(row["cores_busy"])


def _batch_rate(row: dict[str, Any]) -> float:
    return float(row["sagas_per_s"])


def median_interval(values: Sequence[float], rng: random.Random) -> tuple[float, float]:
    """A 95% percentile-bootstrap interval for the median of ``values``."""
    medians = sorted(
        statistics.median(rng.choices(values, k=len(values))) for _ in range(RESAMPLES)
    )
    return medians[int(0.025 * RESAMPLES)], medians[int(0.975 * RESAMPLES) - 1]


def pool(runs: Iterable[dict[str, Any]]) -> list[Pooled]:
    """Pool the rounds of ``runs`` by comparison and case."""
    groups: dict[tuple[str, int, str], list[tuple[float, float]]] = {}
    code: dict[tuple[str, int, str], dict[str, None]] = {}
    for run in runs:
        for n, path, throughput, cpu in round_ratios(run):
            groups.setdefault((comparison(run), n, path), []).append((throughput, cpu))
            code.setdefault((comparison(run), n, path), {})[code_of(run)] = None
    rng = random.Random(SEED)
    pooled = []
    for (name, n, path), ratios in sorted(groups.items()):
        throughput = [t for t, _ in ratios]
        cpu = [c for _, c in ratios]
        pooled.append(
            Pooled(
                comparison=name,
                n=n,
                path=path,
                rounds=len(ratios),
                throughput=statistics.median(throughput),
                throughput_interval=median_interval(throughput, rng),
                cpu=statistics.median(cpu),
                cpu_interval=median_interval(cpu, rng),
                code=tuple(code[name, n, path]),
            )
        )
    return pooled


def main(files: Sequence[Path]) -> int:
    """Print the pooled ratios of ``files``."""
    for p in pool(json.loads(f.read_text()) for f in files):
        t_low, t_high = p.throughput_interval
        c_low, c_high = p.cpu_interval
        print(
            f"{p.comparison:<40} n={p.n:<5} {p.path:<12} rounds={p.rounds:<3} "
            f"ratio={p.throughput:.3f} [{t_low:.3f}, {t_high:.3f}] "
            f"cpu_ratio={p.cpu:.3f} [{c_low:.3f}, {c_high:.3f}] code={','.join(p.code)}"
        )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    raise SystemExit(main(parser.parse_args().files))
