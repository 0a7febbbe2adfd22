"""One module per page, each with a ``router``: ``scheduler.web.app.install`` mounts them all."""
