"""What a result file records about the code that produced it, and where it goes.

A figure is only comparable with another if both came from the same engine: each result
file names the commit it ran on, and whether the working tree had changes on top of it
(then the commit alone does not say what ran). `bench.pooled` prints both, so runs of
different code are not pooled by mistake.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

#: What a result file says when the benchmark did not run from a git checkout.
UNRECORDED = "unrecorded"

_ROOT = Path(__file__).resolve().parent.parent
#: Ignored by git: the figures a user reads are in docs/performance.md, not in the tree.
RESULTS = _ROOT / "bench" / "results"


def provenance(root: Path = _ROOT) -> dict[str, Any]:
    """The commit ``root`` is checked out at, and whether its tracked files have changes.

    Result files are ignored by git, so the ones a benchmark writes are no changes.
    """
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": UNRECORDED, "uncommitted_changes": None}
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return {"commit": commit, "uncommitted_changes": bool(status)}


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def write_result(benchmark: str, payload: dict[str, Any], results: Path = RESULTS) -> Path:
    """Write ``payload`` to ``<results>/<benchmark>-<time>.json`` with its provenance.

    The folder is created if it is missing (a fresh checkout has none). The provenance is
    the one read when the benchmark started: a commit made while it ran does not change
    what it measured.

    Returns:
        The file written.
    """
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"{benchmark}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps({**AT_START, **payload}, indent=2))
    return out


#: Read once, when a benchmark imports this module, before it measures anything.
AT_START = provenance()
