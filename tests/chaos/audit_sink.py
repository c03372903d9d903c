"""The live JSON-lines audit sink against the trails the server's histories hold.

Workers write audit events as they emit them, best effort: a worker killed with
events still queued leaves gaps; a workflow task that emitted events and then never
completed (its worker died or stalled) leaves events the history does not have,
under ids no completed task uses. `compare` counts all of that per saga run, before
`temporal_sagas.audit.reconcile` repairs the sink.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from temporal_sagas.audit import AuditEvent, JsonlAuditSink, read_jsonl, reconcile


@dataclass(frozen=True)
class SinkFigures:
    """The live sink compared with the histories' trails (all counts are events).

    Attributes:
        lines: Non-empty lines in the sink file.
        unreadable: Lines that are not an audit event (a torn write).
        trail: Events in the histories' trails, all runs.
        gaps: Trail events whose id the sink lacks.
        extra: Distinct ids in the sink that no trail holds.
        duplicates: Lines repeating an id already in the sink (collapsed by id).
        reused: Ids whose lines differ in content, among themselves or from the trail.
        broken_hashes: Lines whose hash does not match their content.
        runs_with_gaps: Runs missing at least one event.
        runs_with_extra: Runs with at least one event the history lacks.
        reused_fields: For the reused ids, which fields differed, and how often.
    """

    lines: int
    unreadable: int
    trail: int
    gaps: int
    extra: int
    duplicates: int
    reused: int
    broken_hashes: int
    runs_with_gaps: int
    runs_with_extra: int
    reused_fields: dict[str, int]


def compare(path: Path, trails: list[list[AuditEvent]]) -> SinkFigures:
    """Count how the sink file at ``path`` differs from ``trails`` (one per run)."""
    raw = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    sunk = read_jsonl(raw)
    wanted = {e.event_id: e for trail in trails for e in trail}
    by_id: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in sunk:
        by_id[event.event_id].append(event)
    reused = 0
    fields = Counter[str]()
    for event_id, copies in by_id.items():
        forms = [e.model_dump(mode="json") for e in copies]
        if event_id in wanted:
            forms.append(wanted[event_id].model_dump(mode="json"))
        differing = {key for form in forms for key in form if form[key] != forms[0].get(key)}
        reused += bool(differing)
        fields.update(differing)
    gaps = [i for i in wanted if i not in by_id]
    extra = [i for i in by_id if i not in wanted]
    return SinkFigures(
        lines=len(raw),
        unreadable=len(raw) - len(sunk),
        trail=len(wanted),
        gaps=len(gaps),
        extra=len(extra),
        duplicates=len(sunk) - len(by_id),
        reused=reused,
        broken_hashes=sum(e.computed_hash() != e.hash for e in sunk),
        runs_with_gaps=len({wanted[i].run_id for i in gaps}),
        runs_with_extra=len({by_id[i][0].run_id for i in extra}),
        reused_fields=dict(fields),
    )


def reconcile_all(path: Path, trails: list[list[AuditEvent]]) -> Counter[str]:
    """Reconcile the sink with every run's trail; how many events were added, replaced, removed."""
    sink = JsonlAuditSink(path, fsync=False)
    changed = Counter[str]()
    for trail in trails:
        report = reconcile(sink, trail)
        changed["added"] += len(report.added)
        changed["replaced"] += len(report.replaced)
        changed["removed"] += len(report.removed)
    return changed


def runs_in_file(path: Path) -> dict[str, list[dict[str, object]]]:
    """The file's lines as plain JSON, grouped by run id, in file order (for the check)."""
    runs: dict[str, list[dict[str, object]]] = defaultdict(list)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            runs[str(record.get("run_id"))].append(record)
    return dict(runs)
