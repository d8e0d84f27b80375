"""A set of services for one test session (or one ``tamarco-harness up``).

Services are created and started on first use, each at most once; ``prestart`` starts
several in background threads so a session waits for the slowest one, not for the sum.
``close()`` stops them in reverse start order and deletes their temp directories; it is
registered with :mod:`atexit`, so an interrupted session still cleans up.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar, cast

from ._backend import docker_environment, resolve_backend
from ._carbon import CarbonService
from ._errors import HarnessError
from ._etcd import EtcdService
from ._etcd_cluster import EtcdClusterService
from ._images import image_for
from ._kafka import DurableKafkaService, KafkaService
from ._logstash import LogstashService
from ._otlp import OTLPCollectorService
from ._prometheus import PrometheusService
from ._rabbitmq import RabbitMQService
from ._redis import RedisService
from ._service import Service

S = TypeVar("S", bound=Service)

#: Every service the harness can start, by name (also the CLI's names).
SERVICE_CLASSES: dict[str, type[Service]] = {
    "etcd": EtcdService,
    "rabbitmq": RabbitMQService,
    "kafka": KafkaService,
    "kafka_durable": DurableKafkaService,
    "redis": RedisService,
    "prometheus": PrometheusService,
    "carbon": CarbonService,
    "logstash": LogstashService,
    "otlp": OTLPCollectorService,
}
SERVICE_NAMES: tuple[str, ...] = tuple(SERVICE_CLASSES)
#: Start order for a parallel start: slowest first (RabbitMQ takes 4-7 s).
_SLOWEST_FIRST = ("rabbitmq", "logstash", "kafka_durable", "kafka", "carbon", "etcd", "prometheus", "redis", "otlp")


class Harness:
    """Creates, starts and finally stops the services of one session.

    ``backend`` is ``"local"``, ``"docker"`` or ``"auto"``/``None`` (then
    ``TAMARCO_HARNESS_BACKEND`` decides, else ``default_backend``, else auto); it is resolved
    on first use. ``images`` names the docker image of a service where its
    ``TAMARCO_HARNESS_IMAGE_<SERVICE>`` variable does not (the pytest ini options).
    """

    def __init__(
        self,
        backend: str | None = None,
        *,
        images: Mapping[str, str] | None = None,
        default_backend: str | None = None,
    ) -> None:
        self._requested_backend = backend
        self._default_backend = default_backend
        self.images = dict(images or {})
        #: The engine of the docker backend, as the environment named it when this was created.
        self.docker_environment = docker_environment()
        self._backend: str | None = None
        self._lock = threading.Lock()
        self._futures: dict[str, Future[Service]] = {}
        self._started: list[Service] = []
        self._etcd_cluster: EtcdClusterService | None = None
        self._cluster_lock = threading.Lock()
        self._closed = False
        atexit.register(self.close)

    @property
    def backend(self) -> str:
        with self._lock:
            if self._backend is None:
                self._backend = resolve_backend(
                    self._requested_backend, default=self._default_backend, environment=self.docker_environment
                )
            return self._backend

    def image(self, name: str) -> str:
        """The image the docker backend runs for service ``name``."""
        return image_for(name, self.images)

    def _create(self, name: str) -> Service:
        backend = self.backend
        image, environment = self.image(name), self.docker_environment
        if name == "logstash":
            return LogstashService(backend, redis=self.redis, image=image, docker_environment=environment)
        return SERVICE_CLASSES[name](backend, image=image, docker_environment=environment)

    def _submit(self, name: str) -> tuple[Future[Service], bool]:
        if name not in SERVICE_CLASSES:
            raise HarnessError(f"unknown service {name!r}; known: {', '.join(SERVICE_NAMES)}")
        with self._lock:
            if self._closed:
                raise HarnessError("the harness was closed")
            future = self._futures.get(name)
            if future is not None:
                return future, False
            future = Future()
            self._futures[name] = future
            return future, True

    def _run(self, name: str, future: Future[Service]) -> None:
        service: Service | None = None
        try:
            service = self._create(name)
            with self._lock:
                self._started.append(service)
            service.start()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(service)

    def get(self, name: str) -> Service:
        """The started service ``name``, starting it (and what it needs) on first use."""
        future, owner = self._submit(name)
        if owner:
            self._run(name, future)
        return future.result()

    def prestart(self, names: Iterable[str]) -> None:
        """Start ``names`` in background threads; ``get`` then waits for each one."""
        ordered = sorted(set(names), key=lambda n: _SLOWEST_FIRST.index(n) if n in _SLOWEST_FIRST else 99)
        for name in ordered:
            future, owner = self._submit(name)
            if owner:
                thread = threading.Thread(
                    target=self._run, args=(name, future), name=f"tamarco-harness-{name}", daemon=True
                )
                thread.start()

    def start_all(self, names: Iterable[str]) -> list[Service]:
        """Start ``names`` in parallel and wait for all of them; returns them in order."""
        names = list(names)
        self.prestart(names)
        errors: list[BaseException] = []
        services = []
        for name in names:
            try:
                services.append(self.get(name))
            except BaseException as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        return services

    def _typed(self, name: str, cls: type[S]) -> S:
        return cast(S, self.get(name))

    @property
    def etcd(self) -> EtcdService:
        return self._typed("etcd", EtcdService)

    @property
    def etcd_cluster(self) -> EtcdClusterService:
        """A three-member etcd cluster, started on first use; members killed by a test are
        started again by the next use."""
        with self._cluster_lock:
            if self._closed:
                raise HarnessError("the harness was closed")
            if self._etcd_cluster is None:
                self._etcd_cluster = EtcdClusterService(
                    self.backend, image=self.image("etcd"), docker_environment=self.docker_environment
                )
            cluster = self._etcd_cluster
            cluster.start()
            return cluster

    @property
    def rabbitmq(self) -> RabbitMQService:
        return self._typed("rabbitmq", RabbitMQService)

    @property
    def kafka(self) -> KafkaService:
        return self._typed("kafka", KafkaService)

    @property
    def kafka_durable(self) -> DurableKafkaService:
        """A Kafka-protocol broker whose log survives ``restart()`` (:class:`DurableKafkaService`)."""
        return self._typed("kafka_durable", DurableKafkaService)

    @property
    def redis(self) -> RedisService:
        return self._typed("redis", RedisService)

    @property
    def prometheus(self) -> PrometheusService:
        return self._typed("prometheus", PrometheusService)

    @property
    def carbon(self) -> CarbonService:
        return self._typed("carbon", CarbonService)

    @property
    def logstash(self) -> LogstashService:
        return self._typed("logstash", LogstashService)

    @property
    def otlp(self) -> OTLPCollectorService:
        return self._typed("otlp", OTLPCollectorService)

    def env(self) -> dict[str, str]:
        """The ``TAMARCO_*`` variables of every service started so far."""
        env: dict[str, str] = {}
        for service in self.services():
            env.update(service.env())
        return env

    def requested(self) -> list[str]:
        """The names of the services asked for so far (started, starting or failed)."""
        with self._lock:
            return list(self._futures)

    def services(self) -> list[Service]:
        """The services started successfully so far, in start order."""
        with self._lock:
            futures = list(self._futures.values())
        done = [f.result() for f in futures if f.done() and f.exception() is None]
        return [s for s in self._started if s in done]

    def close(self) -> None:
        """Stop every service (last started first) and delete their temp directories.

        Services still starting in background threads are waited for first, so that no
        child process is left behind.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            futures = list(self._futures.values())
        for future in futures:
            # Returns (not raises) a failed start's exception: that service is closed below.
            future.exception(timeout=300)
        errors: list[BaseException] = []
        with self._cluster_lock:
            cluster, self._etcd_cluster = self._etcd_cluster, None
        if cluster is not None:
            try:
                cluster.close()
            except Exception as exc:
                errors.append(exc)
        for service in reversed(self._started):
            try:
                service.close()
            except Exception as exc:
                errors.append(exc)
        atexit.unregister(self.close)
        if errors:
            raise errors[0]

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
