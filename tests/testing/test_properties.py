"""check_compensation: Hypothesis finds compensations that break the saga contract.

The system under test is an in-memory bank: balances, plus the records its
activities keep under their idempotency keys. Each seeded bug is one line away
from the correct refund, and each test asserts on the bank's own balances.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from temporalio import activity

from temporal_sagas import MissingExtraError, current_idempotency_key, current_step
from temporal_sagas.testing import (
    CompensationPropertyError,
    SagaContractViolation,
    check_compensation,
)

START = 1_000
#: A failing example stops before its refund, so the money it withdrew stays out. Where
#: that would end in declined withdrawals, and so in examples that no longer fail, the
#: bank starts rich enough that none is declined.
RICH = 10**12
#: No example database: the seeded bugs are found afresh in each run.
FAST = settings(max_examples=40, database=None)


@dataclass(frozen=True)
class Withdrawal:
    account: str
    amount: int


WITHDRAWALS = st.builds(
    Withdrawal, account=st.sampled_from(["alice", "bob"]), amount=st.integers(1, 1_500)
)


class Bank:
    """Balances, and what each idempotency key did (the amount moved)."""

    def __init__(self, start: int = START) -> None:
        self.balances = {"alice": start, "bob": start}
        self.records: dict[str, int] = {}

    def state(self) -> dict[str, int]:
        return dict(self.balances)

    async def withdraw(self, w: Withdrawal) -> int:
        key = current_idempotency_key()
        if key in self.records:
            return self.records[key]
        if self.balances[w.account] < w.amount:
            raise ValueError(f"insufficient funds in {w.account}")
        self.balances[w.account] -= w.amount
        self.records[key] = w.amount
        return w.amount

    async def refund(self, w: Withdrawal) -> None:
        key = current_idempotency_key()
        if key in self.records:
            return  # refunded once already: a retry does nothing
        taken = self.records.get(current_step().step_key, 0)  # 0: a void, nothing was taken
        self.balances[w.account] += taken
        self.records[key] = taken

    def withdrawn(self, w: Withdrawal) -> bool:
        """The probe: did the withdrawal under the running action's key happen?"""
        return current_idempotency_key() in self.records


async def test_a_correct_withdraw_and_refund_pass_every_property() -> None:
    bank = Bank()
    await check_compensation(
        bank.withdraw,
        bank.refund,
        snapshot=bank.state,
        inputs=WITHDRAWALS,
        probe=bank.withdrawn,
        settings=FAST,
    )
    assert bank.balances == {"alice": START, "bob": START}
    assert any(amount > 0 for amount in bank.records.values())


async def test_a_refund_that_refunds_again_on_a_second_call_fails_idempotent() -> None:
    bank = Bank()

    async def refund_twice_over(w: Withdrawal) -> None:
        # The seeded bug: no check of its own key, so a retry refunds again.
        bank.balances[w.account] += bank.records.get(current_step().step_key, 0)

    with pytest.raises(CompensationPropertyError, match="'idempotent' failed") as failed:
        await check_compensation(
            bank.withdraw, refund_twice_over, snapshot=bank.state, inputs=WITHDRAWALS, settings=FAST
        )
    error = failed.value
    assert error.property == "idempotent"
    assert isinstance(error.example, Withdrawal)
    # The second refund paid the shrunk withdrawal's amount out a second time.
    assert error.after[error.example.account] - error.before[error.example.account] == (
        error.example.amount
    )
    assert error.example.amount == 1  # Hypothesis shrank the input to the smallest


async def test_a_snapshot_of_the_live_balances_still_shows_the_change() -> None:
    bank = Bank(start=RICH)

    async def refund_nothing(w: Withdrawal) -> None:
        bank.records[current_idempotency_key()] = 0

    with pytest.raises(CompensationPropertyError, match="'undo' failed") as failed:
        await check_compensation(
            bank.withdraw,
            refund_nothing,
            snapshot=lambda: bank.balances,  # the bank's own dict, not a copy
            inputs=WITHDRAWALS,
            settings=FAST,
        )
    assert failed.value.before != failed.value.after


async def test_a_refund_that_pays_out_when_nothing_was_withdrawn_fails_nothing_to_undo() -> None:
    bank = Bank()

    async def refund_the_input(w: Withdrawal) -> None:
        # The seeded bug: refunds the requested amount, withdrawn or not.
        key = current_idempotency_key()
        if key not in bank.records:
            bank.balances[w.account] += w.amount
            bank.records[key] = w.amount

    async def withdraw_unchecked(w: Withdrawal) -> int:
        bank.balances[w.account] -= w.amount
        bank.records[current_idempotency_key()] = w.amount
        return w.amount

    with pytest.raises(CompensationPropertyError, match="'nothing-to-undo' failed") as failed:
        await check_compensation(
            withdraw_unchecked,
            refund_the_input,
            snapshot=bank.state,
            inputs=WITHDRAWALS,
            settings=FAST,
        )
    error = failed.value
    assert error.after[error.example.account] - error.before[error.example.account] == (
        error.example.amount
    )


async def test_a_refund_that_takes_nothing_back_fails_undo() -> None:
    bank = Bank(start=RICH)

    async def refund_nothing(w: Withdrawal) -> None:
        bank.records[current_idempotency_key()] = 0

    with pytest.raises(CompensationPropertyError, match="'undo' failed") as failed:
        await check_compensation(
            bank.withdraw, refund_nothing, snapshot=bank.state, inputs=WITHDRAWALS, settings=FAST
        )
    error = failed.value
    assert error.before[error.example.account] - error.after[error.example.account] == (
        error.example.amount
    )


async def test_a_probe_that_never_sees_the_withdrawal_fails_probe() -> None:
    bank = Bank(start=RICH)

    def lying_probe(w: Withdrawal) -> bool:
        # The seeded bug: looks under the compensation's key, where nothing is yet.
        return f"{current_idempotency_key()}/compensate" in bank.records

    with pytest.raises(CompensationPropertyError, match="'probe' failed") as failed:
        await check_compensation(
            bank.withdraw,
            bank.refund,
            snapshot=bank.state,
            inputs=WITHDRAWALS,
            probe=lying_probe,
            settings=FAST,
        )
    assert "the probe then says False" in str(failed.value)


async def test_a_probe_that_takes_a_void_for_the_withdrawal_fails_probe() -> None:
    bank = Bank()

    def void_counting_probe(w: Withdrawal) -> bool:
        # The seeded bug: any record of the step counts, the refund's void included.
        key = current_idempotency_key()
        return key in bank.records or f"{key}/compensate" in bank.records

    with pytest.raises(CompensationPropertyError, match="'probe' failed") as failed:
        await check_compensation(
            bank.withdraw,
            bank.refund,
            snapshot=bank.state,
            inputs=WITHDRAWALS,
            probe=void_counting_probe,
            settings=FAST,
        )
    assert "only the compensation ran" in str(failed.value)


async def test_each_example_runs_under_the_engines_keys_with_a_saga_key_of_its_own() -> None:
    bank = Bank()
    seen: list[tuple[str, str, str]] = []

    async def refund(w: Withdrawal) -> None:
        step = current_step()
        seen.append((step.kind, step.step_key, step.idempotency_key))
        await bank.refund(w)

    await check_compensation(
        bank.withdraw, refund, snapshot=bank.state, inputs=WITHDRAWALS, settings=FAST
    )
    action_keys = [action_key for _, action_key, _ in seen]
    assert all(kind == "compensation" for kind, _, _ in seen)
    assert all(key == f"{action}/compensate" for _, action, key in seen)
    assert all(key.startswith("check/") and key.endswith("/withdraw") for key in action_keys)
    # Twice per key (the idempotency check), once per lone compensation's fresh key.
    assert len(set(action_keys)) == 2 * len(action_keys) // 3
    # The withdrawals the bank recorded are under those same action keys.
    assert {key for key in bank.records if not key.endswith("/compensate")} <= set(action_keys)


async def test_a_system_slower_than_hypothesis_default_deadline_passes() -> None:
    bank = Bank()

    async def slow_withdraw(w: Withdrawal) -> int:
        await asyncio.sleep(0.25)  # past Hypothesis's default 200 ms deadline
        return await bank.withdraw(w)

    await check_compensation(
        slow_withdraw,
        bank.refund,
        snapshot=bank.state,
        inputs=WITHDRAWALS,
        settings=settings(max_examples=3, database=None),
    )
    assert bank.balances == {"alice": START, "bob": START}


@activity.defn
def reserve(w: Withdrawal) -> str:
    return activity.info().activity_id


async def test_an_activity_reads_its_idempotency_key_from_activity_info() -> None:
    keys: list[tuple[str, str]] = []

    @activity.defn
    def release(w: Withdrawal, reserved: str | None) -> None:
        keys.append((activity.info().activity_id, current_idempotency_key()))

    await check_compensation(
        reserve, release, snapshot=lambda: None, inputs=WITHDRAWALS, settings=FAST
    )
    assert keys
    assert all(info_id == key for info_id, key in keys)


async def test_an_action_that_fails_for_every_input_is_an_error() -> None:
    bank = Bank()

    async def always_declined(w: Withdrawal) -> int:
        raise ValueError("declined")

    with pytest.raises(SagaContractViolation, match="raised for every generated input"):
        await check_compensation(
            always_declined, bank.refund, snapshot=bank.state, inputs=WITHDRAWALS, settings=FAST
        )


async def test_without_hypothesis_the_check_names_the_testing_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bank = Bank()
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(MissingExtraError, match=r"\[testing\]"):
        await check_compensation(
            bank.withdraw, bank.refund, snapshot=bank.state, inputs=WITHDRAWALS
        )
