"""The 0.1 documentation's lifecycle example, corrected (see docs/changes-from-0.1.md).

Each overridden hook prints before and after calling ``super()``, which runs the same hook of
every resource. Run it and press Ctrl-C: the stop hooks print too.
"""

from tamarco.core.microservice import Microservice


class LifecycleMicroservice(Microservice):
    name = "lifecycle_example"

    async def pre_start(self):
        print("Before pre_start of the service")
        await super().pre_start()
        print("After pre_start of the service")

    async def start(self):
        print("Before start of the service")
        await super().start()
        print("After start of the service")

    async def post_start(self):
        print("Before post_start of the service")
        await super().post_start()
        print("After post_start of the service")

    async def stop(self):
        print("Before stop of the service")
        await super().stop()
        print("After stop of the service")

    async def post_stop(self):
        print("Before post_stop of the service")
        await super().post_stop()
        print("After post_stop of the service")


def main():
    microservice = LifecycleMicroservice()
    microservice.run()


if __name__ == "__main__":
    main()
