"""Property checks for users' compensations, on inputs Hypothesis generates.

A compensation is the code that runs when everything else has gone wrong, so it is
the code least often exercised. `check_compensation` runs a step's action and its
compensation directly (no Temporal server), against the user's system or a fake of
it, and checks four properties on each generated input:

- ``undo``: the action, then its compensation, leaves the state as it was.
- ``idempotent``: the compensation run a second time under the same idempotency
  key changes nothing more (a retried compensation must not refund twice).
- ``nothing-to-undo``: the compensation of an action that never ran changes
  nothing (the engine registers compensations before acting, rule 1 of the
  contract, so this happens whenever an action fails before taking effect).
- ``probe``: when a probe is given, it says the action took effect exactly when it
  did.

Each call runs inside a fake activity context (`temporalio.testing.ActivityEnvironment`)
and with the step context the engine would give it, so `current_idempotency_key()`,
`current_step()` and ``activity.info()`` work as on a worker. Every generated
example gets a saga key of its own: keys never collide across examples, and the
state a failing example left behind cannot hide or fake a later one's.

Hypothesis is imported only when a check runs; it comes with the ``[testing]`` extra.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import inspect
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from temporalio.testing import ActivityEnvironment

from temporal_sagas._context import incoming_step
from temporal_sagas._extras import require
from temporal_sagas._models import StepContext
from temporal_sagas.testing._injection import SagaContractViolation

if TYPE_CHECKING:
    import hypothesis
    from hypothesis.strategies import SearchStrategy

__all__ = ["CompensationProperty", "CompensationPropertyError", "check_compensation"]

CompensationProperty = Literal["undo", "idempotent", "nothing-to-undo", "probe"]

_DESCRIPTIONS: dict[CompensationProperty, str] = {
    "undo": "the action then its compensation must leave the state as it was",
    "idempotent": "the compensation run twice under one key must equal running it once",
    "nothing-to-undo": "the compensation of an action that never ran must change nothing",
    "probe": "the probe must say the action took effect exactly when it did",
}

#: How much of a state's or an input's repr a failure message shows.
_REPR_LIMIT = 500


class CompensationPropertyError(SagaContractViolation):
    """A compensation broke one of the properties `check_compensation` checks.

    Attributes:
        property: Which property failed (``undo``, ``idempotent``,
            ``nothing-to-undo`` or ``probe``).
        example: The falsifying input (shrunk by Hypothesis).
        before: The state before the calls that broke the property.
        after: The state after them.
    """

    def __init__(
        self,
        prop: CompensationProperty,
        detail: str,
        *,
        example: object,
        before: object,
        after: object,
        keys: str,
    ) -> None:
        self.property: CompensationProperty = prop
        self.example = example
        self.before = before
        self.after = after
        super().__init__(
            f"compensation property {prop!r} failed: {_DESCRIPTIONS[prop]}\n"
            f"  {detail}\n"
            f"  input:  {_short(example)}\n"
            f"  keys:   {keys}\n"
            f"  before: {_short(before)}\n"
            f"  after:  {_short(after)}"
        )


def _short(value: object) -> str:
    text = repr(value)
    if len(text) <= _REPR_LIMIT:
        return text
    return f"{text[:_REPR_LIMIT]}... ({len(text)} characters)"


async def check_compensation(
    action: Callable[..., Any],
    compensate: Callable[..., Any],
    *,
    snapshot: Callable[[], Any],
    inputs: SearchStrategy[Any],
    probe: Callable[..., Any] | None = None,
    settings: hypothesis.settings | None = None,
    saga: str = "check",
    step: str | None = None,
) -> None:
    """Check a step's compensation against its action on inputs Hypothesis generates.

    Example:
        ```python
        from hypothesis import strategies as st
        from temporal_sagas.testing import check_compensation

        async def test_refund_undoes_withdraw():
            bank = FakeBank()
            await check_compensation(
                bank.withdraw,
                bank.refund,
                snapshot=bank.balances_copy,
                inputs=st.builds(Transfer, amount=st.integers(1, 100)),
                probe=bank.withdrawn,
            )
        ```

    ``action`` and ``compensate`` are called as the engine calls them: the action
    with the input; the compensation with the input, plus the action's result (None
    when the action raised) when it takes a second positional parameter. Either may
    be sync or async, an ``@activity.defn`` function or any callable. An action
    that raises counts as a failed step: its compensation still runs, with None,
    and must still restore the state (the action may have taken effect before it
    failed). Every input failing the action is an error: nothing would be checked.
    A failing example stops at the property it broke, so what it did stays done:
    give a fake enough room (funds, stock) that the examples Hypothesis tries while
    shrinking run as the first failing one did.

    Args:
        action: The step's action.
        compensate: The step's compensation.
        snapshot: Returns the business state the compensation must restore (sync or
            async), copied and compared with ``==``. Leave out the bookkeeping the action and
            compensation keep on purpose, such as their idempotency records: those
            stay behind after an undo.
        inputs: A Hypothesis strategy of the step's input.
        probe: Answers whether the action took effect (sync or async, called with
            the input, under the action's step context, so it reads the action's key
            with `current_idempotency_key()`). It must say no before the action ran
            and after a lone compensation, yes after the action succeeded, and, when
            the action raised, whether the state changed. It is not asked after a
            compensation of an action that ran: a record of an undone action may
            well still say that it ran.
        settings: Hypothesis settings (``max_examples``, ``database``...). Without
            them, the current profile's. The deadline is always off (the user's
            system sets the pace), and so are multiple-bug reports, so that the
            error is one `CompensationPropertyError`.
        saga: The saga name in the keys (``<saga>/<saga key>/<step>``).
        step: The step name in the keys; the action's activity name by default.

    Raises:
        CompensationPropertyError: A property failed; the message names it, the
            shrunk falsifying input, its keys and the states before and after.
        SagaContractViolation: The action raised for every generated input.
        MissingExtraError: Hypothesis is not installed (the ``[testing]`` extra).
    """
    require("check_compensation", "testing", "hypothesis")
    import hypothesis

    # Imported here: the workflows package is not needed to import the testing one.
    from temporal_sagas.workflows._steps import activity_name, takes_result

    runner = _Runner(
        action=action,
        compensate=compensate,
        snapshot=snapshot,
        probe=probe,
        saga=saga,
        step=step or activity_name(action),
        pass_result=takes_result(compensate, 1, None),
    )
    chosen = hypothesis.settings(
        settings if settings is not None else hypothesis.settings.default,
        # No per-example deadline: the user's system sets the pace, and a timing that
        # fails one run and passes the next would only make Hypothesis report flakiness.
        deadline=None,
        report_multiple_bugs=False,
    )
    loop = asyncio.get_running_loop()

    # Hypothesis calls the test synchronously; the user's system may be bound to
    # this event loop (a connection pool, a client). So Hypothesis runs in a thread
    # and hands each example back to this loop, which is free while it waits.
    @chosen
    @hypothesis.given(inputs)
    def compensation_properties(example: Any) -> None:
        asyncio.run_coroutine_threadsafe(runner.run(example), loop).result()

    await asyncio.to_thread(compensation_properties)
    if runner.actions_ok == 0:
        raise SagaContractViolation(
            f"the action raised for every generated input ({runner.actions_failed} tried, "
            f"last: {runner.last_error!r}), so no compensation undid anything: "
            "give inputs the action accepts"
        )


@dataclasses.dataclass
class _Runner:
    """One generated example: the calls in order, each property checked as it comes."""

    action: Callable[..., Any]
    compensate: Callable[..., Any]
    snapshot: Callable[[], Any]
    probe: Callable[..., Any] | None
    saga: str
    step: str
    pass_result: bool
    actions_ok: int = 0
    actions_failed: int = 0
    last_error: BaseException | None = None

    async def run(self, example: Any) -> None:
        action_ctx, compensation_ctx = self._contexts()
        keys = f"{action_ctx.idempotency_key} and {compensation_ctx.idempotency_key}"

        def fail(prop: CompensationProperty, detail: str, before: Any, after: Any) -> None:
            # One raise site: Hypothesis tells bugs apart by where they are raised.
            raise CompensationPropertyError(
                prop, detail, example=example, before=before, after=after, keys=keys
            )

        before = await self._state()
        if self.probe is not None and await self._probe(example, action_ctx):
            fail("probe", "the probe says the action took effect before it ran", before, before)

        try:
            result = await _call(self.action, (example,), action_ctx)
        except Exception as exc:  # a failed step: the saga compensates with no result
            self.actions_failed += 1
            self.last_error = exc
            result, outcome = None, f"the action raised {exc!r}"
            failed = True
        else:
            self.actions_ok += 1
            outcome = f"the action returned {_short(result)}"
            failed = False
        acted = await self._state()
        if self.probe is not None:
            said = await self._probe(example, action_ctx)
            took_effect = acted != before if failed else True
            if said != took_effect:
                fail("probe", f"{outcome}; the probe then says {said}", before, acted)

        args = (example, result) if self.pass_result else (example,)
        await _call(self.compensate, args, compensation_ctx)
        once = await self._state()
        if once != before:
            fail("undo", f"{outcome}; the compensation ran once", before, once)

        await _call(self.compensate, args, compensation_ctx)
        twice = await self._state()
        if twice != once:
            fail("idempotent", f"{outcome}; the compensation ran a second time", once, twice)

        # A fresh key: this step's action never ran under it.
        lone_action_ctx, lone_ctx = self._contexts()
        keys = lone_ctx.idempotency_key
        args = (example, None) if self.pass_result else (example,)
        await _call(self.compensate, args, lone_ctx)
        alone = await self._state()
        if alone != twice:
            fail("nothing-to-undo", "the compensation ran without its action", twice, alone)
        if self.probe is not None and await self._probe(example, lone_action_ctx):
            fail(
                "probe",
                "only the compensation ran, yet the probe says the action took effect",
                twice,
                alone,
            )

    def _contexts(self) -> tuple[StepContext, StepContext]:
        """The action's and the compensation's step contexts, under a fresh saga key."""
        saga_key = f"check-{uuid.uuid4().hex[:12]}"
        common = {"saga": self.saga, "saga_key": saga_key, "step": self.step}
        # StepContext derives the keys as the engine does: ``<saga>/<saga key>/<step>``,
        # plus ``/compensate`` for the compensation.
        return (
            StepContext.model_validate({**common, "kind": "action"}),
            StepContext.model_validate({**common, "kind": "compensation"}),
        )

    async def _state(self) -> Any:
        state = self.snapshot()
        if inspect.isawaitable(state):
            state = await state
        # A copy: a snapshot that returns the live dict would always equal itself.
        return copy.deepcopy(state)

    async def _probe(self, example: Any, ctx: StepContext) -> bool:
        assert self.probe is not None
        return bool(await _call(self.probe, (example,), ctx))


async def _call(fn: Callable[..., Any], args: tuple[Any, ...], ctx: StepContext) -> Any:
    """Call ``fn`` as a worker would: in an activity context, with the step's context."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        activity_id=ctx.idempotency_key,
        workflow_id=ctx.workflow_id,
        workflow_type=ctx.saga,
    )
    token = incoming_step.set(ctx)
    try:
        # An async function's task starts inside this await, so it sees the context.
        result = env.run(fn, *args)
        return await result if inspect.isawaitable(result) else result
    finally:
        incoming_step.reset(token)
