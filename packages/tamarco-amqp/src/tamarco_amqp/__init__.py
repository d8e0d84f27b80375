"""The 0.1 import paths of tamarco-amqp (``tamarco_amqp.resource``, ``.input``, ``.output``).

Deprecated: each module warns (``DeprecationWarning``) and gives the classes of
``tamarco.resources.io.amqp``, the same objects. Import from there in new code.
"""
