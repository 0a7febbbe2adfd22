"""Posts through the running API: create, read, list, and who may not."""

from __future__ import annotations

from datetime import timedelta

from scheduler.accounts.tokens import create_token, revoke_token
from scheduler.store import Event, Post
from tests.api.conftest import World


def _later(world: World, hours: int = 24) -> str:
    return (world.clock() + timedelta(hours=hours)).isoformat()


def test_a_contributor_creates_a_post_and_reads_it_back(world: World) -> None:
    with world.client("carol") as api:
        created = api.post("/posts", json={"text": "Hello from the API", "channels": ["collab-x"], "at": _later(world)})
        assert created.status_code == 201, created.text
        post = created.json()
        assert created.headers["location"] == f"/api/v1/posts/{post['id']}"
        assert post["author"] == "carol"
        assert [p["channel"] for p in post["publications"]] == ["collab-x"]
        again = api.get(f"/posts/{post['id']}")
        assert again.status_code == 200
        assert again.json()["text"] == "Hello from the API"
    with world.runtime.db.read() as session:
        events = session.query(Event).filter(Event.post_id == post["id"], Event.actor == "carol").all()
        assert events
        assert {event.via for event in events} == {f"token:{_token_id(world, 'carol')}"}


def _token_id(world: World, who: str) -> int:
    from scheduler.accounts.tokens import authenticate

    return authenticate(world.runtime.db, world.tokens[who], now=world.clock()).token_id


def test_no_unknown_revoked_or_expired_token_gets_in(world: World) -> None:
    with world.client() as anonymous:
        answer = anonymous.get("/posts/1")
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert "no credentials" in answer.json()["detail"]
        bogus = anonymous.get("/posts/1", headers={"Authorization": "Bearer cp_notarealtoken"})
        assert bogus.status_code == 401
        assert bogus.json()["detail"] == "unknown token"
    short = create_token(
        world.runtime.db,
        user="carol",
        org="collab",
        role="contributor",
        name="short",
        now=world.clock(),
        expires_in=timedelta(minutes=5),
    )
    headers = {"Authorization": f"Bearer {short.token}"}
    with world.client() as api:
        assert api.get("/posts?org=collab", headers=headers).status_code == 200
        world.clock.advance(301)
        expired = api.get("/posts?org=collab", headers=headers)
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]
    revoke_token(world.runtime.db, _token_id(world, "ed"), now=world.clock())
    with world.client("ed") as api:
        revoked = api.get("/posts?org=collab")
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["detail"]


def test_a_partner_token_cannot_read_or_post_on_another_organisations_channels(world: World) -> None:
    with world.client("carol") as carol:
        post_id = carol.post("/posts", json={"text": "internal", "channels": ["collab-x"], "at": _later(world)}).json()[
            "id"
        ]
    with world.client("paula") as paula:
        read = paula.get(f"/posts/{post_id}")
        assert read.status_code == 403
        assert read.headers["content-type"] == "application/problem+json"
        assert "paula is not a member of collab" in read.json()["detail"]
        before = _count_posts(world)
        direct = paula.post("/posts", json={"text": "ours on yours", "channels": ["collab-x"], "at": _later(world)})
        assert direct.status_code == 403
        assert "submit the post to collab" in direct.json()["detail"]
        assert _count_posts(world) == before
        # the way a partner may: into collab's review queue, held for collab's sign-off
        submitted = paula.post(
            "/posts",
            json={"text": "for your channels", "channels": ["collab-x"], "at": _later(world), "submit_to": "collab"},
        )
        assert submitted.status_code == 201, submitted.text
        assert submitted.json()["publications"][0]["state"] == "awaiting_signoff"


def _count_posts(world: World) -> int:
    with world.runtime.db.read() as session:
        return session.query(Post).count()


def test_a_token_acts_at_its_role_not_its_owners(world: World) -> None:
    """alice is an admin; her contributor token cannot list another organisation nor act as admin."""
    weak = create_token(world.runtime.db, user="alice", org="collab", role="contributor", name="ci", now=world.clock())
    with world.client() as api:
        headers = {"Authorization": f"Bearer {weak.token}"}
        assert api.get("/posts", params={"org": "partner"}, headers=headers).status_code == 403


def test_a_repeated_idempotency_key_replays_the_first_answer(world: World) -> None:
    body = {"text": "exactly once", "channels": ["collab-x"], "at": _later(world)}
    with world.client("carol") as api:
        first = api.post("/posts", json=body, headers={"Idempotency-Key": "k-1"})
        second = api.post("/posts", json=body, headers={"Idempotency-Key": "k-1"})
        assert first.status_code == second.status_code == 201
        assert second.json() == first.json()
        assert second.headers["idempotent-replayed"] == "true"
        assert _count_posts(world) == 1
        other = api.post("/posts", json={**body, "text": "something else"}, headers={"Idempotency-Key": "k-1"})
        assert other.status_code == 422
        assert other.json()["field"] == "Idempotency-Key"
        assert _count_posts(world) == 1
    with world.client("ed") as ed:  # a key is the caller's own: the same key from another token is new
        assert ed.post("/posts", json=body, headers={"Idempotency-Key": "k-1"}).status_code == 201
    assert _count_posts(world) == 2


def test_listing_pages_with_a_cursor(world: World) -> None:
    with world.client("carol") as api:
        ids = [
            api.post("/posts", json={"text": f"post {n}", "channels": ["collab-x"], "at": _later(world, n + 1)}).json()[
                "id"
            ]
            for n in range(5)
        ]
        seen: list[int] = []
        cursor = None
        while True:
            page = api.get("/posts", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(ids, reverse=True)
        refused = api.get("/posts", params={"state": "nonsense"})
        assert refused.status_code == 422
        assert "unknown state 'nonsense'" in refused.json()["detail"]


def test_bad_input_names_the_field_and_stores_nothing(world: World) -> None:
    with world.client("carol") as api:
        gap = api.post(
            "/posts", json={"text": "DST", "channels": ["collab-x"], "at": "2030-03-31 02:30", "tz": "Europe/Zurich"}
        )
        assert gap.status_code == 422
        assert "does not exist" in gap.json()["detail"] or "gap" in gap.json()["detail"]
        missing = api.post("/posts", json={"text": "no channels"})
        assert missing.status_code == 422
        assert missing.json()["field"] == "channels"
        unknown = api.post("/posts", json={"text": "x", "channels": ["nope"], "at": _later(world)})
        assert unknown.status_code == 422
        assert "nope" in unknown.json()["detail"]
    assert _count_posts(world) == 0


def test_a_refused_request_does_not_use_up_its_idempotency_key(world: World) -> None:
    body = {"text": "held by a rule", "channels": ["collab-x"], "at": _later(world)}
    with world.client("paula") as paula:
        refused = paula.post("/posts", json=body, headers={"Idempotency-Key": "retry-me"})
        assert refused.status_code == 403
        again = paula.post("/posts", json={**body, "submit_to": "collab"}, headers={"Idempotency-Key": "retry-me"})
        assert again.status_code == 201, again.text


def test_a_kept_answer_is_encrypted_and_replayed_only_while_its_credentials_count(world: World) -> None:
    from scheduler.store import IdempotencyKey

    with world.client("alice") as alice:
        made = alice.post("/tokens", json={"name": "ci"}, headers={"Idempotency-Key": "token-1"})
        assert made.status_code == 201, made.text
        secret = made.json()["token"]
        again = alice.post("/tokens", json={"name": "ci"}, headers={"Idempotency-Key": "token-1"})
        assert again.json()["token"] == secret  # the same answer, no second token
        with world.runtime.db.read() as session:
            kept = [row.body or b"" for row in session.query(IdempotencyKey).all()]
        assert kept
        assert all(secret.encode() not in body for body in kept)  # a copy of the database holds no token
        revoke_token(world.runtime.db, _token_id(world, "alice"), now=world.clock())
        replayed = alice.post("/tokens", json={"name": "ci"}, headers={"Idempotency-Key": "token-1"})
        assert replayed.status_code == 401
        assert secret not in replayed.text
