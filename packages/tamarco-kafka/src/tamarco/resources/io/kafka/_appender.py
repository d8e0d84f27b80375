"""Hand messages to aiokafka's producer one at a time, so that concurrent senders do not stampede.

``AIOKafkaProducer.send`` appends a message to its partition's batch and returns a future of the
broker's answer; while that batch is full it waits until the batch is drained, and then wakes
*every* caller that waited, each with a timer of its own, though only one batch's worth fits in
the next one. Three thousand ``push`` calls gathered at once then cost about thirty thousand
wake-ups (measured 13x slower than the same sends made by one caller).

:class:`Appender` lets one caller at a time into ``send``. The others queue here, in order;
when the caller inside is through, it hands the queued messages (those there at that moment)
to ``send`` itself — waiting alone whenever a batch is full — and gives each waiting caller its
future, all woken in one pass of the event loop. Then it gives its place to the next caller
still queued, if any, so no caller hands over messages forever. While nobody waits, a caller
goes straight through: one flag checked, nothing allocated.

A submitted message's answer reaches its waiter from one callback per aiokafka *batch*, not one
per message: aiokafka answers every message of a batch at once and alike (``MessageBatch.done``
settles the batch's future, then each message's, with success; ``failure`` with copies of one
error), so the batch's callback relays the batch's outcome to each of its messages, with the same
latency as a callback per message — and a slow partition delays only its own batches. That uses
aiokafka internals (``_message_accumulator._batches``, ``MessageBatch.future`` and
``_msg_futures``; checked by ``test_kafka_api.py``); a producer without them, or more open
batches than :data:`_MOST_BATCHES`, gets a callback per message, as does a caller of
:meth:`Appender.send` waiting for its record's metadata.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias

if TYPE_CHECKING:
    from aiokafka import AIOKafkaProducer

__all__ = ["Appender"]


#: A waiter's result meaning "your turn: send your message, then the queue's".
_TURN: Any = object()
#: Open batches (partitions being filled) looked through for a message's batch; past that, the
#: message's answer is relayed by a callback of its own.
_MOST_BATCHES = 8


def _open_batches(producer: object) -> Any:
    """aiokafka's batches being filled, by partition (``deque`` of ``MessageBatch``), or None."""
    batches = getattr(getattr(producer, "_message_accumulator", None), "_batches", None)
    return batches if isinstance(batches, dict) else None


#: A queued message: ``(topic, value, key, headers, waiter, wait, translate, published)`` — a
#: tuple, one per message (an object of eight attributes costs six times as much to make).
#: ``waiter`` is resolved with the message's future (or the broker's answer, if ``wait``), or
#: ``_TURN``; ``translate`` is set for a message :meth:`Appender.submit` queued (no caller waits
#: for a turn): its failure as the sender sees it; ``published(n)``: ``n`` submitted messages
#: were acknowledged by the broker.
_Queued: TypeAlias = tuple[
    str,
    bytes,
    "bytes | None",
    "list[tuple[str, bytes]] | None",
    "asyncio.Future[Any]",
    bool,
    "Callable[[Exception, bytes], Exception] | None",
    "Callable[[int], object] | None",
]
_WAITER: Final = 4
_WAIT: Final = 5
_TRANSLATE: Final = 6
_PUBLISHED: Final = 7


def _answer(queued: _Queued, future: asyncio.Future[Any]) -> bool:
    """Settle the message's waiter with the broker's answer (``future``), unless its sender gave
    up waiting; True if that was a submitted message's acknowledgement (which ``published`` counts)."""
    waiter = queued[_WAITER]
    if waiter.done():
        return False
    translate = queued[_TRANSLATE]
    try:
        result = future.result()
    except asyncio.CancelledError:
        waiter.cancel()
    except Exception as error:
        waiter.set_exception(error if translate is None else _failure(queued, error))
    except BaseException as error:
        waiter.set_exception(error)
    else:
        if translate is None:
            waiter.set_result(result)
            return False
        waiter.set_result(None)
        return True
    return False


def _failure(queued: _Queued, error: BaseException) -> BaseException:
    """A submitted message's failure (``error``, the batch's, copied: each message's own, as
    aiokafka gives) as its sender sees it."""
    translate = queued[_TRANSLATE]
    if translate is None or not isinstance(error, Exception):
        return copy.copy(error)
    try:
        return translate(copy.copy(error), queued[1])
    except Exception as untranslated:  # fails this message only, not its batch's others
        return untranslated


def _relay(queued: _Queued, future: asyncio.Future[Any]) -> None:
    """``_answer`` as a callback of the message's own future, counting it."""
    published = queued[_PUBLISHED]
    if _answer(queued, future) and published is not None:
        published(1)


class Appender:
    """One way into the producer's ``send`` for every sender of a transport (see the module doc)."""

    __slots__ = ("_batches", "_busy", "_drainer", "_filling", "_loop", "_queue", "_waiting", "producer")

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self._busy = False
        self._queue: collections.deque[_Queued] = collections.deque()
        self._drainer: asyncio.Task[None] | None = None
        #: The producer's loop (one appender per producer, so per loop), taken at the first submit.
        self._loop: asyncio.AbstractEventLoop | None = None
        #: aiokafka's batches being filled (see the module doc), or None: a callback per message.
        self._batches = _open_batches(producer)
        #: Handed-over messages waiting for their batch's answer, by batch.
        self._waiting: dict[Any, list[_Queued]] = {}
        #: The batch the last waited-for message went into, and its waiting messages.
        self._filling: tuple[Any, list[_Queued]] | None = None

    @property
    def waiting(self) -> int:
        """Callers queued for their turn."""
        return len(self._queue)

    async def send(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]] | None, *, wait: bool
    ) -> Any:
        """Put the message in a batch. ``wait``: return the broker's answer (its metadata) once
        it acknowledged it; otherwise return the future of that answer at once. Raises what
        aiokafka raises for it (a message too large, a closed producer, a refused send...)."""
        if self._busy:
            waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._queue.append((topic, value, key, headers, waiter, wait, None, None))
            try:
                result = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.exception() is None and waiter.result() is _TURN:
                    self._next()  # given the turn just as it was cancelled: pass it on
                raise
            if result is not _TURN:
                return result
            # Our turn (``_busy`` is still set for us): send our own message, then the queue's.
        else:
            self._busy = True
        try:
            future = await self.producer.send(topic, value, key=key, headers=headers)
            if self._queue:
                await self._hand_over(len(self._queue))
        finally:
            self._next()
        return (await future) if wait else future

    def submit(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None,
        translate: Callable[[Exception, bytes], Exception],
        published: Callable[[int], object] | None = None,
    ) -> asyncio.Future[Any]:
        """Queue the message and return the future of the broker's answer (None once it
        acknowledged the message, then ``published(1)`` is called, or once per batch with the
        count of its messages acknowledged; a failure as ``translate``
        makes it from the error and the message) without a coroutine per message: what many
        concurrent acknowledged sends need. When nobody is sending, one task hands the queue
        over, in order."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Any] = loop.create_future()
        self._queue.append((topic, value, key, headers, waiter, True, translate, published))
        if not self._busy:
            self._busy = True
            self._start_drainer()
        return waiter

    def _start_drainer(self) -> None:
        self._drainer = asyncio.get_running_loop().create_task(self._drain(), name="tamarco:kafka:appender")

    async def _drain(self) -> None:
        """The turn of the messages :meth:`submit` queued: hand the queue over, then pass the turn on."""
        try:
            await self._hand_over(len(self._queue))
        except asyncio.CancelledError:  # the loop is closing: nobody will hand these over
            queue, self._queue = self._queue, collections.deque()
            for queued in queue:
                queued[_WAITER].cancel()
            self._busy = False
            raise
        self._next()

    async def _hand_over(self, count: int) -> None:
        """Send the first ``count`` queued messages; a waiter gets its message's future, or the
        broker's answer relayed to it when it comes (one wake-up for the caller, not two)."""
        queue, send = self._queue, self.producer.send
        for _ in range(count):
            if not queue:
                return
            queued = queue.popleft()
            waiter = queued[_WAITER]
            if waiter.done():  # its caller was cancelled: the message is not sent
                continue
            try:
                future = await send(queued[0], queued[1], key=queued[2], headers=queued[3])
            except asyncio.CancelledError:
                queue.appendleft(queued)  # stays first in the queue, for the next caller's turn
                raise
            except Exception as error:
                if not waiter.done():
                    translate = queued[_TRANSLATE]
                    waiter.set_exception(translate(error, queued[1]) if translate is not None else error)
                continue
            if queued[_TRANSLATE] is None:  # a caller of ``send``: its future, or its answer
                if not queued[_WAIT]:
                    if not waiter.done():
                        waiter.set_result(future)
                else:
                    future.add_done_callback(functools.partial(_relay, queued))
                continue
            filling = self._filling  # most often the batch of the message before
            if filling is not None and filling[0]._msg_futures[-1][0] is future:
                filling[1].append(queued)
                continue
            self._wait_for_batch(queued, future)

    def _wait_for_batch(self, queued: _Queued, future: asyncio.Future[Any]) -> None:
        """Relay the answer of the submitted message ``queued`` (``future``) with its batch's
        (see the module doc)."""
        batches, batch = self._batches, None
        if batches is not None and len(batches) <= _MOST_BATCHES:
            for filling in batches.values():
                last = filling[-1] if filling else None
                messages = last._msg_futures if last is not None else None
                if messages and messages[-1][0] is future:
                    batch = last
                    break
        if batch is None:
            future.add_done_callback(functools.partial(_relay, queued))
            return
        waiting = self._waiting.get(batch)
        if waiting is None:
            waiting = self._waiting[batch] = []
            batch.future.add_done_callback(functools.partial(self._answered, batch))
        waiting.append(queued)
        self._filling = (batch, waiting)

    def _answered(self, batch: Any, outcome: asyncio.Future[Any]) -> None:
        """``batch`` was answered (``outcome``, its future), and with it each of its messages
        alike (``MessageBatch.done``/``failure``): relay that answer to each submitted message;
        count each output's acknowledged messages in one call."""
        filling = self._filling
        if filling is not None and filling[0] is batch:
            self._filling = None
        waiting = self._waiting.pop(batch, ())
        if outcome.cancelled():
            for queued in waiting:
                queued[_WAITER].cancel()
            return
        error = outcome.exception()
        if error is not None:
            for queued in waiting:
                waiter = queued[_WAITER]
                if not waiter.done():
                    waiter.set_exception(_failure(queued, error))
            for future, _ in batch._msg_futures:  # each got a copy of the error: taken, not logged at exit
                if future.done() and not future.cancelled():
                    future.exception()
            return
        counter: Callable[[int], object] | None = None
        count = 0
        for queued in waiting:
            waiter = queued[_WAITER]
            if waiter.done():  # its sender gave up waiting
                continue
            waiter.set_result(None)
            published = queued[_PUBLISHED]
            if published is not counter:
                if counter is not None:
                    counter(count)
                counter, count = published, 0
            count += 1
        if counter is not None:
            counter(count)

    def _next(self) -> None:
        """Give the turn to the first caller still waiting, or free the way."""
        queue = self._queue
        while queue:
            queued = queue[0]
            if queued[_WAITER].done():
                queue.popleft()
            elif queued[_TRANSLATE] is not None:  # submitted: no caller to take the turn
                self._start_drainer()
                return
            else:
                queue.popleft()
                queued[_WAITER].set_result(_TURN)
                return
        self._busy = False
