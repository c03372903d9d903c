"""Result files name the code that produced them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bench.provenance import AT_START, UNRECORDED, provenance, write_result


def _git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@example.invalid"]
    done = subprocess.run(
        ["git", "-C", str(root), *identity, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "engine.py").write_text("x = 1\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "engine")
    return root


def test_a_result_names_the_commit_it_ran_on(checkout: Path) -> None:
    assert provenance(checkout) == {
        "commit": _git(checkout, "rev-parse", "HEAD"),
        "uncommitted_changes": False,
    }


def test_a_changed_tracked_file_means_the_commit_alone_does_not_say_what_ran(
    checkout: Path,
) -> None:
    (checkout / "engine.py").write_text("x = 2\n")

    assert provenance(checkout)["uncommitted_changes"] is True


def test_a_new_untracked_file_is_not_a_change_to_the_code(checkout: Path) -> None:
    (checkout / "saga_overhead-20261207T000000.json").write_text("{}\n")

    assert provenance(checkout)["uncommitted_changes"] is False


def test_this_checkout_ignores_the_result_files_benchmarks_write() -> None:
    repo = Path(__file__).resolve().parents[2]
    ignored = subprocess.run(
        ["git", "-C", str(repo), "check-ignore", "-q", "bench/results/saga_overhead-1.json"],
        check=False,
    )

    assert ignored.returncode == 0


def test_outside_a_checkout_the_commit_is_unrecorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()

    assert provenance(tmp_path / "plain") == {"commit": UNRECORDED, "uncommitted_changes": None}


def test_a_written_result_carries_the_provenance_read_when_the_benchmark_started(
    tmp_path: Path,
) -> None:
    out = write_result("saga_overhead", {"rows": [1, 2]}, results=tmp_path)

    assert out.parent == tmp_path
    assert out.name.startswith("saga_overhead-")
    assert json.loads(out.read_text()) == {**AT_START, "rows": [1, 2]}


def test_this_checkout_records_its_own_commit() -> None:
    repo = Path(__file__).resolve().parents[2]

    assert provenance(repo)["commit"] == _git(repo, "rev-parse", "HEAD")


def test_the_results_folder_is_created_when_a_checkout_has_none(tmp_path: Path) -> None:
    results = tmp_path / "bench" / "results"

    out = write_result("replay_throughput", {"rows": []}, results=results)

    assert out.parent == results
    assert json.loads(out.read_text())["rows"] == []
