"""Sign in (password, and the TOTP code when the person has a second factor), sign out, and
accept an invitation by choosing a password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.accounts.sessions import SESSION_COOKIE
from scheduler.web.templating import render
from scheduler.web.viewer import CsrfRefused, RuntimeDep, Seen, check_csrf

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/calendar"
    return target


@router.get("/signin")
def sign_in_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "signin.html", viewer=None, next=_safe_next(next), error=None, name="")


@router.post("/signin")
async def sign_in(
    request: Request,
    runtime: RuntimeDep,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    totp: Annotated[str, Form(max_length=12)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/calendar",
) -> Response:
    from scheduler.accounts import sessions
    from scheduler.accounts.tokens import Unauthenticated
    from scheduler.errors import CrosspostError

    origin = request.headers.get("origin")
    ours = {f"{request.url.scheme}://{request.url.netloc}", runtime.settings.web_base_url.rstrip("/")}  # behind a proxy
    if origin and origin not in ours:
        # another site's form signing the browser in to an account of the attacker's (login CSRF)
        raise CsrfRefused()
    address = request.client.host if request.client else "unknown"
    try:
        started = await run_in_threadpool(
            sessions.sign_in,
            runtime.db,
            runtime.settings,
            name=name.strip(),
            password=password,
            totp_code=totp.strip() or None,
            now=runtime.clock(),
            address=address,
            user_agent=request.headers.get("user-agent", "")[:300],
        )
    except (Unauthenticated, CrosspostError) as refused:
        return render(
            request, "signin.html", status_code=401, viewer=None, next=_safe_next(next), error=str(refused), name=name
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        started.token,
        httponly=True,
        samesite="lax",
        secure=runtime.settings.web_base_url.startswith("https://"),
        path="/",
    )
    return response


@router.post("/signout")
async def sign_out(request: Request, seen: Seen, runtime: RuntimeDep) -> Response:
    from scheduler.accounts import sessions

    form = await request.form()
    check_csrf(seen, str(form.get("csrf", "")))
    await run_in_threadpool(sessions.sign_out, runtime.db, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
