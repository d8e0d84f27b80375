import asyncio

from {{ cookiecutter.project_slug }}.meters import heartbeats
from {{ cookiecutter.project_slug }}.microservice import MyMicroservice


def test_heartbeat_counts():
    service = MyMicroservice()
    before = heartbeats.current_value()
    asyncio.run(service.heartbeat())
    assert heartbeats.current_value() == before + 1
