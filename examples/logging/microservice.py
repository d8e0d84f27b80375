"""The 0.1 documentation's logging examples: the service's logger, an extra logger, an
exception with its traceback, and extra fields and tags (sent to Logstash when configured).
"""

import asyncio
import logging

from tamarco.core.microservice import Microservice, task


class MyMicroservice(Microservice):
    name = "my_microservice_name"
    extra_loggers_names = ["my_extra_logger"]  # 0.1 wrote extra_loggers_names.append(...)

    @task
    async def periodic_log(self):
        logging.getLogger("my_extra_logger").info("Initializing periodic log")
        while True:
            self.logger.info("logger line", extra={"tags": {"tag": "tag_value"}, "extra_field": "extra_field_value"})
            try:
                raise KeyError("missing")
            except KeyError:
                self.logger.warning("Unexpected exception.", exc_info=True)
            await asyncio.sleep(1)


if __name__ == "__main__":
    MyMicroservice().run()
