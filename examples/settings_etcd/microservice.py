"""Settings from etcd (the 0.1 documentation's §3.5.1 and §3.6), watched live.

Run etcd, write ``settings.yml`` next to this file into it, then start the service::

    tamarco etcd write_yml examples/settings_etcd/settings.yml
    TAMARCO_ETCD_HOST=127.0.0.1 ETCD_CHECK_KEY=etcd_ready python examples/settings_etcd/microservice.py
    etcdctl put /system/greeting '"good morning"'      # the watcher logs the change

The service waits for ``ETCD_CHECK_KEY``, reads ``system.microservices.dog.logging.profile``
over ``system.logging.profile``, and logs every change of ``system.greeting``. Ctrl-C stops it.
"""

from tamarco.core.microservice import Microservice


class Dog(Microservice):
    name = "dog"

    async def post_start(self):
        await super().post_start()
        profile = await self.settings.get("system.logging.profile")
        greeting = await self.settings.get("system.greeting", "hi")
        self.logger.info("logging profile %s, greeting %r", profile, greeting)
        await self.settings.watch("system.greeting", self.on_greeting)

    async def on_greeting(self, key, value):
        self.logger.info("setting %s changed to %r", key, value)


if __name__ == "__main__":
    Dog().run()
