"""What `sagas show`, `show --json`, `plan` and `audit` print is redacted like the logs.

The saga's input has a `card_number` field and its failing step's message quotes the
card number; the saga parks (its other compensation fails), so `plan` has inputs to show.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from click.testing import CliRunner, Result
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from temporal_sagas import SagaStatus, flush_audit_log
from temporal_sagas.cli._main import cli
from tests.cli.redaction_sagas import ACTIVITIES, CARD, Payment, PaySaga
from tests.sagas import new_id, wait_for_status

pytestmark = pytest.mark.dev_server

FORMS = (CARD, CARD.replace(" ", ""))


async def sagas(env: WorkflowEnvironment, *args: str) -> Result:
    address = env.client.service_client.config.target_host
    result: Any = await asyncio.to_thread(CliRunner().invoke, cli, [*args, "--address", address])
    return result


@pytest.fixture
async def parked(saga_dev_env: WorkflowEnvironment, saga_task_queue: str) -> Any:
    client, wid = saga_dev_env.client, new_id("pay")
    async with Worker(
        client, task_queue=saga_task_queue, workflows=[PaySaga], activities=ACTIVITIES
    ):
        handle = await client.start_workflow(
            PaySaga.run, Payment(order=wid, card_number=CARD), id=wid, task_queue=saga_task_queue
        )
        await wait_for_status(handle, SagaStatus.NEEDS_ATTENTION)
        # The test process logs the saga's audit events from a writer thread; let it
        # finish before a command's output is captured, so only the command's is read.
        flush_audit_log()
        yield wid
        await handle.terminate("test over")


def _leaks(text: str) -> bool:
    return any(form in text for form in FORMS)


@pytest.mark.parametrize(
    "command",
    [("show",), ("show", "--json"), ("plan",), ("plan", "--json"), ("audit",), ("audit", "--json")],
)
async def test_output_never_shows_the_card_number(
    saga_dev_env: WorkflowEnvironment, parked: str, command: tuple[str, ...]
) -> None:
    result = await sagas(saga_dev_env, command[0], parked, *command[1:])

    assert result.exit_code == 0, result.output
    assert not _leaks(result.output)


async def test_the_quoted_card_number_is_masked_where_the_failure_shows(
    saga_dev_env: WorkflowEnvironment, parked: str
) -> None:
    result = await sagas(saga_dev_env, "show", parked, "--json")

    assert "card [REDACTED CARD] declined" in result.output


async def test_the_card_number_field_is_masked_in_the_plan(
    saga_dev_env: WorkflowEnvironment, parked: str
) -> None:
    result = await sagas(saga_dev_env, "plan", parked)

    assert '"card_number": "[REDACTED]"' in result.output


async def test_unredacted_shows_the_inputs_but_the_state_never_held_the_card(
    saga_dev_env: WorkflowEnvironment, parked: str
) -> None:
    shown = await sagas(saga_dev_env, "show", parked, "--json", "--unredacted")
    planned = await sagas(saga_dev_env, "plan", parked, "--unredacted")

    # The engine masks card numbers where it flattens a failure, before the message
    # enters the state and the audit chain; --unredacted cannot bring them back.
    assert "card [REDACTED CARD] declined" in shown.output
    assert CARD in planned.output  # the step's input, as the history holds it


async def test_extra_key_names_come_from_sagas_redact_keys(
    saga_dev_env: WorkflowEnvironment, parked: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGAS_REDACT_KEYS", "order")

    result = await sagas(saga_dev_env, "plan", parked, "--json")

    assert '"order": "[REDACTED]"' in result.output
