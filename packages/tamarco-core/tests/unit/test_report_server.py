"""The report-server contract: found by what a resource does, ordered by ``depends_on``."""

from typing import Any, ClassVar

import pytest
from tamarco.core.dependency_graph import resource_dependencies
from tamarco.core.errors import MicroserviceDefinitionError
from tamarco.core.microservice import MicroserviceContext
from tamarco.core.report_server import ReportRequest, ReportResponse, ReportServer, find_report_server
from tamarco.resources.bases import BaseResource


class FakeReportServer(BaseResource):
    """Not tamarco-http's: any resource with the contract's methods is a report server."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: list[tuple[str, str]] = []

    def add_route(self, method: str, path: str, handler: Any) -> None:
        self.routes.append((method, path))

    @property
    def url(self) -> str | None:
        return None

    @property
    def port(self) -> int | None:
        return None


class Endpoints(BaseResource):
    depends_on: ClassVar[tuple[str | type, ...]] = (ReportServer,)


def test_a_contract_in_depends_on_orders_after_every_resource_satisfying_it():
    class Service(MicroserviceContext):
        name = "contract_order"
        use_default_resources = False
        endpoints = Endpoints()
        plain = BaseResource()
        ops = FakeReportServer()

    service = Service()
    assert service.resource_dependencies == {"endpoints": ["ops"], "plain": [], "ops": []}
    assert service.resources_order.index("ops") < service.resources_order.index("endpoints")
    assert find_report_server(service) is service.ops
    assert service.dependents("ops") == ["endpoints"]  # a restart of the report server restarts it too
    assert isinstance(service.ops, ReportServer)
    assert not isinstance(service.plain, ReportServer)


def test_a_contract_nobody_satisfies_is_not_an_error():
    class Service(MicroserviceContext):
        name = "contract_missing"
        use_default_resources = False
        endpoints = Endpoints()

    service = Service()
    assert service.resource_dependencies == {"endpoints": []}
    assert find_report_server(service) is None
    assert find_report_server(None) is None


def test_a_depends_on_entry_that_is_neither_a_name_nor_a_class_names_the_resource():
    resource = BaseResource()
    resource.depends_on = (42,)  # type: ignore[misc]
    with pytest.raises(MicroserviceDefinitionError, match=r"resource 'odd'.*42"):
        resource_dependencies({"odd": resource})


def test_the_neutral_request_and_response():
    request = ReportRequest("GET", "/mine", {"format": "json"}, {"accept": "text/plain"}, b"")
    assert request.header("Accept") == request.header("accept") == "text/plain"
    assert request.header("X-Missing", "none") == "none"
    assert (request.query["format"], request.match_info, request.body) == ("json", {}, b"")

    as_json = ReportResponse.json({"ok": True}, status=503, headers={"X-Why": "draining"})
    assert (as_json.status, as_json.content_type, as_json.body) == (503, "application/json", b'{"ok": true}')
    assert as_json.headers == {"X-Why": "draining"}
    as_text = ReportResponse.text("héllo", content_type="text/html")
    assert (as_text.body, as_text.content_type) == ("héllo".encode(), "text/html; charset=utf-8")
    raw = ReportResponse(b"\x00\x01", content_type="application/octet-stream")
    assert (raw.status, raw.body, raw.headers) == (200, b"\x00\x01", {})
