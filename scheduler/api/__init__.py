"""The HTTP API (`/api/v1`), a thin face over the same service functions as the command line.

``create_app`` builds the FastAPI application; ``crosspost up`` and ``crosspost web`` serve it.
Routers live one per noun (``posts``, ``publications``, ...); each endpoint authenticates the
caller (``auth.principal``), runs the service inside ``acting_as`` so authorization and the audit
log see who and through what, and turns the service's errors into ``application/problem+json``
(``problems``).
"""
