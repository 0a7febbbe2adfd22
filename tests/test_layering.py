"""The domain core imports no Celery, HTTP client or platform SDK; shells depend on it, not the reverse."""

from __future__ import annotations

import subprocess
import sys

# The domain core, grouped by domain: what it decides is independent of how it is reached.
CORE = [
    "scheduler.when",
    "scheduler.posts",
    "scheduler.listing",
    "scheduler.reports",
    "scheduler.store",
    "scheduler.publishing.states",
    "scheduler.publishing.content",
    "scheduler.publishing.ports",
    "scheduler.publishing.publications",
    "scheduler.publishing.transitions",
    "scheduler.publishing.dispatch",
    "scheduler.editorial.people",
    "scheduler.editorial.signoff",
    "scheduler.editorial.shares",
    "scheduler.editorial.overview",
    "scheduler.editorial.policy",
    "scheduler.editorial.authorization",
    "scheduler.editorial.inbox",
    "scheduler.acting",
    "scheduler.accounts.tokens",
    "scheduler.accounts.passwords",
    "scheduler.accounts.sessions",
    "scheduler.accounts.invitations",
    "scheduler.accounts.totp",
    "scheduler.planning.slots",
    "scheduler.planning.timetable",
    "scheduler.planning.agenda",
    "scheduler.calendar.observances",
    "scheduler.calendar.campaigns",
    "scheduler.calendar.ics",
    "scheduler.calendar.feed",
    "media.specs",
    "media.text",
]
# The faces (and the outbound senders, which speak HTTP and SMTP): thin shells over the core, which
# never reaches back into one.
FACES = ["scheduler.cli", "scheduler.api", "scheduler.web", "scheduler.notify"]
FORBIDDEN = ["celery", "kombu", "requests", "tweepy", "typer", "fastapi", "httpx", "adapters"]


def test_core_modules_import_no_shell_or_sdk() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + f"print(sorted(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_core_imports_no_face() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {module}\n" for module in CORE)
        + f"print(sorted(m for m in sys.modules if m.startswith(tuple({FACES!r}))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_adapters_export_a_short_sorted_surface() -> None:
    import adapters

    assert adapters.__all__ == sorted(adapters.__all__)
    assert all(hasattr(adapters, name) for name in adapters.__all__)


def test_the_command_line_loads_no_heavy_library_before_a_command_needs_it() -> None:
    """`crosspost --help` and `text check --platform` answer without SQLAlchemy, the platform
    SDKs, PyAV or the settings machinery (benchmarks/cli.py times it)."""
    heavy = ["sqlalchemy", "adapters", "av", "tweepy", "requests", "redis", "celery", "pydantic_settings", "PIL"]
    code = (
        "import sys\n"
        "from scheduler.cli import main\n"
        "for argv in (['--help'], ['text', 'check', '--platform', 'linkedin', 'hi']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.strip().splitlines()[-1] == "[]"
