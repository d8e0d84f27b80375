"""User/password authentication against the harness's etcd; the password never shows.

Auth is enabled on the shared etcd for the duration of one test and disabled in ``finally``
(the tests of a session run one after the other).
"""

import contextlib
import json

import aetcd.rpc as rpc
import grpc
import pytest
from tamarco.core.logging.testing import capture_logs
from tamarco.core.settings import Settings
from tamarco.core.settings.backends.etcd import EtcdError

pytestmark = pytest.mark.functional

ROOT_PASSWORD = "r00t-Pa55word-never-shown"
#: Deadline of each raw gRPC call below: a broken etcd fails the test, it does not hang it.
RPC_TIMEOUT = 10


@contextlib.asynccontextmanager
async def etcd_auth_enabled(host, port):
    """Create ``root`` with :data:`ROOT_PASSWORD`, enable auth; undo both afterwards."""
    async with grpc.aio.insecure_channel(f"{host}:{port}") as channel:
        auth = rpc.AuthStub(channel)
        with contextlib.suppress(grpc.aio.AioRpcError):  # the role exists already
            await auth.RoleAdd(rpc.AuthRoleAddRequest(name="root"), timeout=RPC_TIMEOUT)
        await auth.UserAdd(rpc.AuthUserAddRequest(name="root", password=ROOT_PASSWORD), timeout=RPC_TIMEOUT)
        await auth.UserGrantRole(rpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=RPC_TIMEOUT)
        await auth.AuthEnable(rpc.AuthEnableRequest(), timeout=RPC_TIMEOUT)
        try:
            yield
        finally:
            request = rpc.AuthenticateRequest(name="root", password=ROOT_PASSWORD)
            token = (await auth.Authenticate(request, timeout=RPC_TIMEOUT)).token
            metadata = (("token", token),)
            await auth.AuthDisable(rpc.AuthDisableRequest(), metadata=metadata, timeout=RPC_TIMEOUT)
            await auth.UserDelete(rpc.AuthUserDeleteRequest(name="root"), timeout=RPC_TIMEOUT)


async def test_user_password_auth_and_the_password_never_appears(etcd_service, etcd_prefix):
    etcd_service.put(etcd_prefix + "system/deploy_name", json.dumps("secured"))
    env = {**etcd_service.env(), "TAMARCO_ETCD_PREFIX": etcd_prefix, "TAMARCO_ETCD_STARTUP_TIMEOUT": "2"}
    async with etcd_auth_enabled(etcd_service.host, etcd_service.port):
        with capture_logs() as logs:
            anonymous = Settings("dog", environ=env)
            with pytest.raises(EtcdError) as anonymous_error:
                await anonymous.start()
            await anonymous.stop()

            wrong = Settings("dog", environ={**env, "TAMARCO_ETCD_USER": "root", "TAMARCO_ETCD_PASSWORD": "wrong-pw"})
            with pytest.raises(EtcdError) as wrong_error:
                await wrong.start()
            await wrong.stop()

            settings = Settings(
                "dog", environ={**env, "TAMARCO_ETCD_USER": "root", "TAMARCO_ETCD_PASSWORD": ROOT_PASSWORD}
            )
            await settings.start()
            try:
                assert await settings.get("system.deploy_name") == "secured"
                await settings.set("system.written_with_auth", 1)
                assert repr(settings.backend).count(ROOT_PASSWORD) == 0
            finally:
                await settings.stop()
    assert json.loads(etcd_service.get(etcd_prefix + "system/written_with_auth")) == 1
    assert "user root" in str(wrong_error.value) and "wrong-pw" not in str(wrong_error.value)
    assert etcd_service.url.split("//")[1] in str(anonymous_error.value)
    everything_logged = "\n".join(f"{r.message} {r.exc_info}" for r in logs)
    for error in (anonymous_error.value, wrong_error.value):
        assert ROOT_PASSWORD not in str(error) and ROOT_PASSWORD not in repr(error)
    assert ROOT_PASSWORD not in everything_logged
