"""Connecting an account: the authorization code flow with PKCE, against X's contract fake."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from adapters import oauth
from adapters.errors import AuthExpired
from tests.conftest import make_settings
from tests.fakes.x_api import XFake
from tests.system.conftest import free_port


@pytest.fixture
def x() -> Iterator[XFake]:
    with XFake() as fake:
        yield fake


def test_sign_in_through_the_local_callback_gives_credentials_that_post(x: XFake, tmp_path: object) -> None:
    settings = make_settings(
        tmp_path / "data",  # type: ignore[operator]
        x_oauth_url=f"{x.url}/i/oauth2/authorize",
        x_token_url=f"{x.url}/2/oauth2/token",
    )
    port = free_port()
    authorization = oauth.authorization("x", "crosspost-app", f"http://127.0.0.1:{port}/callback", settings)
    assert "code_challenge_method=S256" in authorization.url
    browser = threading.Thread(target=requests.get, args=(authorization.url,), kwargs={"timeout": 10})
    redirected = oauth.wait_for_redirect(port, timeout=10, ready=lambda _uri: browser.start())
    code = oauth.code_from_redirect(authorization, redirected)
    credentials = oauth.exchange(authorization, code, "crosspost-app", None, settings)
    assert credentials["access_token"] == x.state.keys.bearer
    assert credentials["refresh_token"] == x.state.keys.refresh_token
    # the code works once; a forged state is refused
    with pytest.raises(AuthExpired, match="refused the sign-in code"):
        oauth.exchange(authorization, code, "crosspost-app", None, settings)
    with pytest.raises(AuthExpired, match="state does not match"):
        oauth.code_from_redirect(authorization, redirected.replace(authorization.state, "forged"))


def test_a_pasted_redirect_with_an_error_says_why(tmp_path: object) -> None:
    settings = make_settings(tmp_path / "data")  # type: ignore[operator]
    authorization = oauth.authorization("linkedin", "app", "https://example.org/cb", settings)
    assert authorization.url.startswith("https://www.linkedin.com/oauth/v2/authorization?")
    assert "code_challenge" not in authorization.url  # LinkedIn's flow has no PKCE
    with pytest.raises(AuthExpired, match="did not authorise crosspost: The user cancelled"):
        oauth.code_from_redirect(
            authorization, "https://example.org/cb?error=user_cancelled&error_description=The+user+cancelled"
        )
