"""The 0.1 import paths of tamarco-kafka (``tamarco_kafka.resource``, ``.input``, ``.output``).

Deprecated: each module warns (``DeprecationWarning``) and gives the classes of
``tamarco.resources.io.kafka``, the same objects. Import from there in new code.
"""
