"""``decree serve``: decisions over HTTP (an optional part: ``pip install decree[serve]``).

:func:`create_app` builds the ASGI application from :class:`Settings`; :func:`run` serves
it with uvicorn. Modules by role: ``requests`` (bodies and validation), ``decisions``
(the engine call, receipts, canonical JSON), ``decisionlog`` (the log, the store of rule
sets, replay), ``served`` (the served rule set and hot reload), ``openapi`` (the API
document from the vocabulary), ``handlers`` and ``app`` (HTTP), ``server`` (uvicorn).
"""

from engine.service.app import PolicyErrorsAtStart, Settings, create_app

__all__ = ["PolicyErrorsAtStart", "Settings", "create_app"]
