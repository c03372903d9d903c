"""Keyed seals on audit lines: a rewrite without the key shows, a crash re-run does not.

The history's trail is the ground truth (the golden compensated saga); the log is a
real JSON-lines sink file.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from temporal_sagas.audit import AuditEvent, AuditKeyError, AuditSealer, JsonlAuditSink, reconcile
from temporal_sagas.cli._main import cli
from temporal_sagas.history import audit_trail, load_history, verify_log

GOLDEN = Path(__file__).parents[1] / "history" / "histories" / "compensated.history.json"
KEY = base64.b64encode(os.urandom(32)).decode()
OLD = base64.b64encode(os.urandom(32)).decode()


def _trail() -> list[AuditEvent]:
    return audit_trail(load_history(GOLDEN))


def _rehash(event: AuditEvent, **changes: object) -> AuditEvent:
    """``event`` changed and given a hash that fits: what a forger without the key can do."""
    changed = event.model_copy(update={**changes, "mac": None})
    return changed.model_copy(update={"hash": changed.computed_hash()})


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_a_sealing_sink_writes_a_seal_the_key_verifies(tmp_path: Path) -> None:
    sealer = AuditSealer.from_spec(f"k1:{KEY}")
    sink = JsonlAuditSink(tmp_path / "audit.jsonl", sealer=sealer)
    trail = _trail()
    for event in trail:
        sink.write(event)

    result = verify_log(trail, _lines(tmp_path / "audit.jsonl"), sealer=sealer)

    assert all(json.loads(line)["mac"].startswith("k1:") for line in _lines(sink.path))
    assert result.ok
    assert result.checked == len(trail)


def test_a_consistent_rewrite_passes_the_hash_chain_but_not_the_seal(tmp_path: Path) -> None:
    sealer = AuditSealer.from_spec(f"k1:{KEY}")
    trail = _trail()
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path, sealer=sealer)
    for event in trail:
        sink.write(event)
    # Someone without the key edits the close reason and fixes the hash to match.
    forged = _rehash(trail[-1], detail="COMPLETED")
    lines = [*_lines(path)[:-1], forged.canonical_json()]

    assert forged.computed_hash() == forged.hash  # the chain alone cannot tell
    result = verify_log(trail, lines, sealer=sealer)

    assert not result.ok
    assert [a.event_id for a in result.altered] == [trail[-1].event_id]


def test_a_sealed_line_from_a_re_run_task_is_superseded_not_tampering(tmp_path: Path) -> None:
    sealer = AuditSealer.from_spec(f"k1:{KEY}")
    trail = _trail()
    path = tmp_path / "audit.jsonl"
    sink = JsonlAuditSink(path, sealer=sealer)
    # The first run of a workflow task logged another outcome for the same event id
    # before the server crashed; the worker that wrote it held the key.
    rerun = sealer.seal(_rehash(trail[-1], detail="CANCELLED"))
    sink.write(rerun)
    for event in trail:
        sink.write(event)  # the id is already in the file: the sink keeps the first

    result = verify_log(trail, _lines(path), sealer=sealer)
    report = reconcile(sink, trail)
    after = verify_log(trail, _lines(path), sealer=sealer)

    assert result.ok
    assert result.superseded == (trail[-1].event_id,)
    assert result.altered == ()
    assert report.replaced == (trail[-1].event_id,)
    assert after.ok
    assert after.superseded == ()


def test_a_sealed_event_the_history_lacks_is_abandoned_not_extra(tmp_path: Path) -> None:
    sealer = AuditSealer.from_spec(f"k1:{KEY}")
    trail = _trail()
    ghost = sealer.seal(_rehash(trail[-1], event_id=f"{trail[-1].run_id}/999.0"))
    lines = [sealer.seal(e).canonical_json() for e in trail] + [ghost.canonical_json()]

    result = verify_log(trail, lines, sealer=sealer)

    assert result.ok
    assert result.abandoned == (ghost.event_id,)
    assert result.extra == ()


def test_unsealed_lines_fail_when_keys_are_configured(tmp_path: Path) -> None:
    sealer = AuditSealer.from_spec(f"k1:{KEY}")
    trail = _trail()

    result = verify_log(trail, [e.canonical_json() for e in trail], sealer=sealer)

    assert not result.ok
    assert result.unsealed == tuple(e.event_id for e in trail)


def test_lines_sealed_under_a_rotated_out_key_still_verify_while_it_is_listed() -> None:
    trail = _trail()
    old = AuditSealer.from_spec(f"old:{OLD}")
    rotated = AuditSealer.from_spec(f"new:{KEY},old:{OLD}")

    lines = [old.seal(e).canonical_json() for e in trail]

    assert verify_log(trail, lines, sealer=rotated).ok
    assert not verify_log(trail, lines, sealer=AuditSealer.from_spec(f"new:{KEY}")).ok


def test_a_key_id_listed_twice_is_refused() -> None:
    with pytest.raises(AuditKeyError, match="'k1' is listed twice"):
        AuditSealer.from_spec(f"k1:{KEY},k1:{OLD}")


def test_sagas_audit_verify_reports_a_re_run_apart_from_tampering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGAS_AUDIT_KEYS", f"k1:{KEY}")
    sealer = AuditSealer.from_spec(f"k1:{KEY}")
    trail = _trail()
    log = tmp_path / "audit.jsonl"
    rerun = sealer.seal(_rehash(trail[-1], detail="CANCELLED"))
    lines = [sealer.seal(e).canonical_json() for e in trail[:-1]] + [rerun.canonical_json()]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = CliRunner().invoke(cli, ["audit", "--history", str(GOLDEN), "--verify", str(log)])

    assert result.exit_code == 0, result.output
    assert f"superseded {trail[-1].event_id}: sealed, from a workflow task that ran again" in (
        result.output
    )
