"""A service run as a subprocess by the status functional tests.

Settings come from ``TAMARCO_YML_FILE``. ``POST /test/fail/<resource>`` on the report server
marks a resource FAILED, as a lost connection would; ``READY <report server url>`` is printed
once the service runs.
"""

from __future__ import annotations

from tamarco.core.microservice import Microservice, task
from tamarco.core.report_server import ReportRequest, ReportResponse
from tamarco.resources.bases import BaseResource, StatusCodes


class Database(BaseResource):
    """Stands for a client resource (a database, a broker connection)."""


class FaultInjector(BaseResource):
    depends_on = ("tamarco_http_report_server",)

    async def pre_start(self) -> None:
        self.microservice.resources["tamarco_http_report_server"].add_route("POST", "/test/fail/{name}", self.fail)

    async def fail(self, request: ReportRequest) -> ReportResponse:
        name = request.match_info["name"]
        self.microservice.resources[name].set_status(StatusCodes.FAILED, ConnectionError(f"{name}: connection lost"))
        return ReportResponse.json({"failed": name})


class StatusService(Microservice):
    name = "status_service"
    db = Database()
    fault_injector = FaultInjector()

    @task
    async def announce(self) -> None:
        print(f"READY {self.tamarco_http_report_server.url}", flush=True)


if __name__ == "__main__":
    StatusService().run()
