"""Time rebuilding and rendering a saga with 1,000 steps (measurement only; prints seconds).

The history is synthesised from a recorded 3-step one (tests/history/histories/completed),
by repeating its step pattern, so no server is needed:

    .venv/bin/python bench/show_1000_steps.py
"""

from __future__ import annotations

import time
from pathlib import Path

from temporal_sagas.history import load_history, rebuild, render_saga

SOURCE = Path(__file__).parent.parent / "tests/history/histories/completed.state.json"


def main(steps: int = 1000) -> None:
    from temporal_sagas import SagaState

    base = SagaState.model_validate_json(SOURCE.read_text())
    first = base.steps[0]
    many = tuple(
        first.model_copy(update={"name": f"step{i}", "activity_id": f"{first.activity_id}{i}"})
        for i in range(steps)
    )
    state = base.model_copy(update={"steps": many})
    history = load_history(SOURCE.with_name("retried.history.json"))

    began = time.perf_counter()
    text = render_saga(state)
    rendered = time.perf_counter() - began

    began = time.perf_counter()
    for _ in range(100):
        rebuild(history)
    rebuilt = (time.perf_counter() - began) / 100
    events = len(history.events)
    print(f"render {steps} steps: {rendered:.3f}s ({len(text.splitlines())} lines)")
    print(
        f"rebuild: {rebuilt * 1e6 / events:.1f}us per event "
        f"(~{rebuilt / events * steps * 11:.3f}s for {steps} steps, ~{steps * 11} events)"
    )


if __name__ == "__main__":
    main()
