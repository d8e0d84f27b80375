"""Service registry in etcd: instances register under a kept-alive lease and can be listed
and watched (see :class:`Registry`)."""

from tamarco.resources.basic.registry.resource import (
    RegisteredInstance,
    Registry,
    RegistryError,
    RegistrySettingsError,
    RegistryWatch,
)

__all__ = ["RegisteredInstance", "Registry", "RegistryError", "RegistrySettingsError", "RegistryWatch"]
