"""The whole service, started in this process with its settings in a real etcd (the
``etcd_service`` and ``etcd_prefix`` fixtures of tamarco-harness): its route is called and
the report server's /metrics scraped."""

import asyncio
import json

import aiohttp
import pytest

from {{ cookiecutter.project_slug }}.microservice import MyMicroservice

pytestmark = pytest.mark.functional


async def wait_until(predicate, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {predicate}")
        await asyncio.sleep(0.05)


@pytest.fixture
def settings_in_etcd(etcd_service, etcd_prefix):
    """The service's settings written to etcd: both servers on free ports."""
    etcd_service.put(f"{etcd_prefix}system/deploy_name", json.dumps("functional-tests"))
    etcd_service.put(f"{etcd_prefix}system/resources/api/port", json.dumps(0))
    etcd_service.put(f"{etcd_prefix}system/resources/tamarco_http_report_server/port", json.dumps(0))
    return {**etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix}


@pytest.fixture
async def running_service(settings_in_etcd):
    service = MyMicroservice(environ=settings_in_etcd)
    run = asyncio.create_task(service.run_until_stopped())
    await wait_until(lambda: service.state == "running" or run.done())
    assert not run.done(), "the service stopped while starting"
    yield service
    await service.stop_gracefully()
    assert await asyncio.wait_for(run, 60) == 0


async def test_greeting_route_and_metrics(running_service):
    api = running_service.api.url
    report = running_service.tamarco_http_report_server.url
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.get(f"{api}/greetings/Ada") as response:
            assert response.status == 200
            assert await response.json() == {"message": "Hello, Ada!"}
        async with session.get(f"{api}/greetings/{'x' * 100}") as response:
            assert response.status == 400
        async with session.post(f"{api}/greetings", json={"name": "Ada"}) as response:
            assert response.status == 200
            assert await response.json() == {"message": "Hello, Ada!"}
        async with session.post(f"{api}/greetings", json={"nom": "Ada"}) as response:
            assert response.status == 422  # the typed handler's body did not validate
            assert (await response.json())["errors"][0]["loc"] == "name"
        async with session.get(f"{api}/openapi.json") as response:
            assert response.status == 200
            assert "GreetingRequest" in (await response.json())["components"]["schemas"]
        async with session.get(f"{report}/health/ready") as response:
            assert response.status == 200
        async with session.get(f"{report}/metrics") as response:
            assert response.status == 200
            metrics = await response.text()
    samples = [line for line in metrics.splitlines() if "greetings" in line and not line.startswith("#")]
    assert samples and any(float(line.rsplit(" ", 1)[1]) >= 1 for line in samples), metrics
