"""The roles people hold in an organisation, lowest first: each includes the ones before it.

A module of its own, with no imports, so that the command line can name them without loading the
policy machinery."""

ROLES: tuple[str, ...] = ("contributor", "editor", "approver", "admin")
