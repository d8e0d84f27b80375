"""The {{ cookiecutter.project_name }} microservice."""

from tamarco.core.microservice import Microservice, task_timer

from {{ cookiecutter.project_slug }}.meters import heartbeats


class MyMicroservice(Microservice):
    name = "{{ cookiecutter.project_slug }}"

    @task_timer(interval=5000, autostart=True)
    async def heartbeat(self) -> None:
        heartbeats.inc()
        self.logger.info("heartbeat")


def main() -> None:
    MyMicroservice().run()
