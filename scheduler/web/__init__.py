"""The web app for the comms team: server-rendered pages (Jinja2) with htmx, served by the same
service as the API and calling the same service functions.

Every asset (htmx, styles, icons) is served from ``static/`` and pinned in the repository; nothing
comes from a CDN and nothing needs a build step. Pages live one module per page in ``pages/``,
each with a ``router``; ``install`` mounts them all and the static files.
"""
