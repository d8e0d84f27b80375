"""``/status``: inputs, outputs and counts."""

from __future__ import annotations

from ._case import MessagingCase, SuiteBase, collector, running, wait_until

__all__ = ["StatusTests"]


class StatusTests(SuiteBase):
    """``/status``: see the module doc."""

    async def test_status_shows_inputs_outputs_and_counts(self, messaging_case: MessagingCase) -> None:
        case = messaging_case
        (queue,) = await self._names(case, "status")
        received, handler = collector()
        output = case.output(queue)
        resource = case.resource([case.pull_input(queue, on_message=handler)], [output])
        async with running(case, resource):
            await output.push(1)
            await wait_until(lambda: received == [1], what="one message")
            status = await resource.status()
        assert status["status_name"] == "STARTED"
        assert status["inputs"][queue]["handled"] == 1
        assert status["inputs"][queue]["source"] == queue
        assert status["outputs"][queue]["destination"] == queue
        assert "address" in status["broker"]
