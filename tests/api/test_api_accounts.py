"""Accounts through the running API: sign-in (throttled, with TOTP), session cookies with CSRF and
timeouts, sign-out (everywhere), invitations, and API tokens made, listed and revoked."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
import pytest

from scheduler.accounts.invitations import invite
from scheduler.accounts.passwords import set_password
from scheduler.accounts.totp import confirm_totp, start_totp
from scheduler.store import Post
from tests.api.conftest import World

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def cheap_hashes(world: World) -> None:
    """Argon2 at its lowest cost (settings the server reads per request): hashing is not under test here."""
    world.runtime.settings.password_hash_memory_kib = 8
    world.runtime.settings.password_hash_time_cost = 1


def _sign_in(world: World, who: str, password: str = PASSWORD, **extra: str) -> httpx.Response:
    with _with(world, {}) as anonymous:
        return anonymous.post("/session", json={"name": who, "password": password, **extra})


def _password(world: World, who: str) -> None:
    set_password(world.runtime.db, world.runtime.settings, who, PASSWORD, now=world.clock())


def _session(world: World, who: str) -> tuple[httpx.Client, str]:
    """A client carrying ``who``'s session cookie (and nothing else), and the session's CSRF token."""
    answer = _sign_in(world, who)
    assert answer.status_code == 200, answer.text
    cookie = answer.headers["set-cookie"].split(";")[0]
    return _with(world, {"Cookie": cookie}), answer.json()["csrf_token"]


def _with(world: World, headers: dict[str, str]) -> httpx.Client:
    # plain HTTP on loopback: no CA bundle to load (which costs more than the request)
    return httpx.Client(base_url=world.url + "/api/v1", headers=headers, timeout=30, verify=False)


def _later(world: World) -> str:
    return (world.clock() + timedelta(days=1)).isoformat()


def test_signing_in_sets_a_guarded_cookie_and_the_session_acts_as_the_person(world: World) -> None:
    _password(world, "carol")
    answer = _sign_in(world, "carol")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["user"] == "carol"
    assert body["organisations"] == [{"org": "collab", "role": "contributor"}]
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("crosspost_session=cps_")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # the base URL is http; https would add Secure
    api, csrf = _session(world, "carol")
    with api:
        me = api.get("/me").json()
        assert me["user"] == "carol"
        assert me["via"].startswith("session:")
        assert me["token"] is None
        assert me["totp"] is False
        created = api.post(
            "/posts",
            json={"text": "From the web app", "channels": ["collab-x"], "at": _later(world)},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 201, created.text
    with world.runtime.db.read() as session:
        post = session.get(Post, created.json()["id"])
        assert post is not None
        assert post.author == "carol"


def test_a_wrong_password_or_an_account_without_one_is_401(world: World) -> None:
    _password(world, "carol")
    for who, password in (("carol", "not the password"), ("ed", PASSWORD), ("nobody", PASSWORD)):
        answer = _sign_in(world, who, password)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == "wrong user name or password"
        assert "set-cookie" not in answer.headers
    assert _sign_in(world, "carol", "").status_code == 422  # an empty password is not even tried


def test_too_many_failures_answer_429_with_retry_after(world: World) -> None:
    _password(world, "carol")
    for _ in range(5):
        assert _sign_in(world, "carol", "a wrong password").status_code == 401
    throttled = _sign_in(world, "carol")  # the right password: locked all the same
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "900"
    assert throttled.headers["content-type"] == "application/problem+json"
    assert "try again in 15 minutes" in throttled.json()["detail"]
    world.clock.advance(900)
    assert _sign_in(world, "carol").status_code == 200


def test_an_account_with_totp_needs_its_code(world: World) -> None:
    _password(world, "apu")
    db, settings = world.runtime.db, world.runtime.settings
    secret = start_totp(db, settings, "apu", now=world.clock()).secret
    confirm_totp(db, settings, "apu", pyotp.TOTP(secret).at(world.clock() - timedelta(seconds=30)), now=world.clock())
    needed = _sign_in(world, "apu")
    assert needed.status_code == 401
    assert needed.json()["field"] == "totp"
    assert "authenticator app" in needed.json()["detail"]
    assert (
        _sign_in(world, "apu", totp="123456" if pyotp.TOTP(secret).now() != "123456" else "654321").status_code == 401
    )
    signed_in = _sign_in(world, "apu", totp=pyotp.TOTP(secret).at(world.clock()))
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["set-cookie"].split(";")[0]
    with _with(world, {"Cookie": cookie}) as api:
        assert api.get("/me").json()["totp"] is True


def test_sessions_end_when_idle_and_at_the_absolute_timeout(world: World) -> None:
    _password(world, "ed")
    idle, _ = _session(world, "ed")
    busy, _ = _session(world, "ed")
    with idle, busy:
        world.clock.advance(29 * 60)
        assert busy.get("/me").status_code == 200
        world.clock.advance(60)
        ended = idle.get("/me")
        assert ended.status_code == 401
        assert "after 30 minutes without use" in ended.json()["detail"]
        for _ in range(30):  # used every 25 minutes: only the absolute timeout (12 h) ends it
            world.clock.advance(25 * 60)
            answer = busy.get("/me")
            if answer.status_code == 401:
                break
        assert answer.status_code == 401
        assert "720 minutes after sign-in" in answer.json()["detail"]


def test_csrf_is_required_for_every_cookie_authenticated_change(world: World) -> None:
    _password(world, "carol")
    api, csrf = _session(world, "carol")
    new_post = {"text": "Forged?", "channels": ["collab-x"], "at": _later(world)}
    with api:
        for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
            forged = api.post("/posts", json=new_post, headers=headers)
            assert forged.status_code == 403
            assert forged.json()["field"] == "X-CSRF-Token"
        assert api.delete("/session").status_code == 403
        assert api.get("/posts?org=collab").status_code == 200  # reading needs none
        assert api.post("/posts", json=new_post, headers={"X-CSRF-Token": csrf}).status_code == 201
    with world.runtime.db.read() as session:
        assert session.query(Post).filter(Post.text == "Forged?").count() == 1
    # a bearer token needs no CSRF token: no browser sends it on its own
    with world.client("carol") as api:
        assert api.post("/posts", json=new_post).status_code == 201


def test_sign_out_and_sign_out_everywhere(world: World) -> None:
    _password(world, "ed")
    laptop, laptop_csrf = _session(world, "ed")
    phone, phone_csrf = _session(world, "ed")
    tablet, _ = _session(world, "ed")
    with laptop, phone, tablet:
        out = laptop.delete("/session", headers={"X-CSRF-Token": laptop_csrf})
        assert out.status_code == 204
        assert 'crosspost_session=""' in out.headers["set-cookie"]
        assert laptop.get("/me").status_code == 401
        everywhere = phone.post("/session/sign-out-everywhere", headers={"X-CSRF-Token": phone_csrf})
        assert everywhere.status_code == 200
        assert everywhere.json() == {"sessions_ended": 2}
        assert phone.get("/me").status_code == 401
        assert tablet.get("/me").status_code == 401
    with world.client("ed") as api:  # API tokens are not sessions
        assert api.get("/me").json()["via"].startswith("token:")
        assert api.delete("/session").status_code == 409


def test_an_invitation_is_accepted_once(world: World) -> None:
    sent = invite(world.runtime.db, world.runtime.settings, "paula", now=world.clock(), actor="pete")
    assert sent.url.endswith(f"/invite/{sent.token}")
    with _with(world, {}) as anonymous:
        weak = anonymous.post(f"/invitations/{sent.token}", json={"password": "paula"})
        assert weak.status_code == 422
        assert weak.json()["field"] == "password"
        accepted = anonymous.post(f"/invitations/{sent.token}", json={"password": PASSWORD})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json() == {"user": "paula"}
        again = anonymous.post(f"/invitations/{sent.token}", json={"password": "another long password"})
        assert again.status_code == 409
        assert "already used" in again.json()["detail"]
        assert anonymous.post("/invitations/nonsense", json={"password": PASSWORD}).status_code == 404
    assert _sign_in(world, "paula").status_code == 200


def test_tokens_made_listed_and_revoked_through_the_api(world: World) -> None:
    with world.client("carol") as carol:
        made = carol.post("/tokens", json={"name": "my script", "expires_days": 30})
        assert made.status_code == 201, made.text
        token = made.json()
        assert token["token"].startswith("cp_")
        assert token["role"] == "contributor"
        assert token["org"] == "collab"
        assert token["expires_at"] is not None
        assert made.headers["location"] == f"/api/v1/tokens/{token['id']}"
        listed = carol.get("/tokens").json()
        assert {row["name"] for row in listed} == {"carol's token", "my script"}
        assert all("token" not in row for row in listed)  # the secret is never listed
        wider = carol.post("/tokens", json={"name": "admin please", "role": "admin"})
        assert wider.status_code == 403
        assert "rule 'roles'" in wider.json()["detail"]
    with world.client("alice") as alice:  # an admin sees the organisation's tokens, not the partner's
        names = {row["name"] for row in alice.get("/tokens").json()}
        assert {"my script", "carol's token", "ed's token"} <= names
        assert "paula's token" not in names
    with world.client("paula") as paula:
        assert paula.delete(f"/tokens/{token['id']}").status_code == 403
        assert {row["name"] for row in paula.get("/tokens").json()} == {"paula's token"}
    fresh = _with(world, {"Authorization": f"Bearer {token['token']}"})
    with fresh:
        assert fresh.get("/me").json()["token"] == {"id": token["id"], "org": "collab", "role": "contributor"}
        assert fresh.delete(f"/tokens/{token['id']}").status_code == 204
        revoked = fresh.get("/me")
        assert revoked.status_code == 401
        assert revoked.json()["detail"] == f"token {token['id']} was revoked"
    with world.client("carol") as carol:
        assert carol.delete("/tokens/999999").status_code == 404


def test_changing_one_s_password_and_second_factor_needs_the_current_password(world: World) -> None:
    _password(world, "ed")
    api, csrf = _session(world, "ed")
    other, _ = _session(world, "ed")
    guarded = {"X-CSRF-Token": csrf}
    with api, other:
        wrong = api.post("/me/totp", json={"password": "a guess at it"}, headers=guarded)
        assert wrong.status_code == 403
        assert wrong.json()["field"] == "password"
        started = api.post("/me/totp", json={"password": PASSWORD}, headers=guarded)
        assert started.status_code == 200, started.text
        assert started.json()["uri"].startswith("otpauth://totp/crosspost:ed?")
        code = pyotp.TOTP(started.json()["secret"]).at(world.clock())
        assert api.post("/me/totp/confirm", json={"code": code}, headers=guarded).status_code == 204
        assert api.get("/me").json()["totp"] is True
        assert api.post("/me/totp/off", json={"password": PASSWORD}, headers=guarded).status_code == 204
        weak = api.put("/me/password", json={"current": PASSWORD, "new": "ed"}, headers=guarded)
        assert weak.status_code == 422
        assert weak.json()["field"] == "new"
        changed = api.put("/me/password", json={"current": PASSWORD, "new": "a fresh long passphrase"}, headers=guarded)
        assert changed.status_code == 204
        assert other.get("/me").status_code == 401  # every session ends with the old password
    assert _sign_in(world, "ed", "a fresh long passphrase").status_code == 200
    with world.client("ed") as token:  # a stolen token cannot guess the password without limit
        for _ in range(5):  # the sign-in above cleared the earlier failure
            assert token.post("/me/totp", json={"password": "guess"}).status_code == 403
        locked = token.post("/me/totp", json={"password": "a fresh long passphrase"})
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 0
