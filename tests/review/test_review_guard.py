"""The review server against a hostile neighbour: no token, no data (reads included); a
request from another web page changes nothing; the page's edits cannot point the server
at files outside the class file's folder or the recording, nor tell whether they exist."""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient

READS = (
    "/",
    "/api/session",
    "/api/frames",
    "/api/frames/0",
    "/api/frames/0/image",
    "/api/frames/0/image?thumb=120",
    "/api/segments",
    "/api/queue",
    "/api/classes",
    "/api/export/labels.csv",
    "/api/examples/0/image",
    "/docs",
    "/openapi.json",
)


@pytest.fixture
def app(review_session):
    from screenstate.review.app import create_review_app

    return create_review_app(review_session)


@pytest.fixture
def anon(app):
    with TestClient(app) as c:
        yield c


def _label(client, **headers):
    return client.post("/api/label", json={"index": 0, "state": "file_chooser"}, headers=headers)


def test_without_the_token_every_read_and_write_is_401(anon, app, review_session):
    classes = review_session.classfile.path
    before = classes.read_text()
    for path in READS:
        r = anon.get(path)
        assert r.status_code == 401, path
        assert "token" in r.text and "frame_000" not in r.text
    wrong = {"Authorization": "Bearer " + "x" * 43}
    assert anon.get("/api/frames", headers=wrong).status_code == 401
    assert anon.get("/api/frames?token=nope").status_code == 401
    assert _label(anon).status_code == 401
    assert anon.post("/api/undo").status_code == 401
    assert anon.put("/api/classes", json={"text": before}).status_code == 401
    assert anon.post("/api/try", files={"file": ("a.png", b"x", "image/png")}).status_code == 401
    assert classes.read_text() == before and not (classes.parent / "exemplars").exists()
    # the page's own code is public (it holds nothing of the user's)
    assert anon.get("/static/review.js").status_code == 200


def test_every_route_of_the_app_needs_the_token(anon, app):
    """Not only the routes listed above: any endpoint added later (actions, ask, ...) is
    behind the guard, whatever its method."""
    from fastapi.routing import APIRoute

    public = {"/favicon.ico"}  # an empty answer, public like /static/ (review/guard.py)
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.path not in public]
    assert any("/ask" in r.path for r in routes) and any("/actions" in r.path for r in routes)
    for r in routes:
        path = r.path.replace("{index}", "0").replace("{column}", "0")
        for method in r.methods:
            assert anon.request(method, path).status_code == 401, (method, r.path)


def test_bearer_query_and_cookie_carry_the_token(anon, app):
    token = app.state.token
    assert anon.get("/api/frames", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert anon.get(f"/api/frames?token={token}").status_code == 200
    # opening the printed URL: the token goes into an HttpOnly, SameSite=Strict cookie and
    # out of the address bar
    r = anon.get(f"/?token={token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert anon.get("/api/frames").status_code == 200  # the cookie alone
    assert "review.js" in anon.get("/").text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://testserver:9999"},  # another port of the same host: same site
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_changes_are_403_and_change_nothing(review_client, review_session, headers):
    classes = review_session.classfile.path
    assert _label(review_client).status_code == 200
    labelled = classes.read_text()
    for r in (
        review_client.post("/api/undo", headers=headers),  # no body: a content-type check cannot see it
        review_client.post("/api/undo", data={"x": "1"}, headers=headers),  # an HTML form post
        _label(review_client, **headers),
        review_client.put("/api/classes", json={"text": labelled}, headers=headers),
        review_client.get("/api/frames", headers=headers),  # reads from another page too
    ):
        assert r.status_code == 403, r.text
        assert "another web page" in r.json()["error"]
    assert classes.read_text() == labelled
    assert review_client.get("/api/session").json()["can_undo"] is True
    # the page's own requests pass
    own = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    assert review_client.post("/api/undo", headers=own).status_code == 200


def test_host_check(review_session):
    from screenstate.review.app import create_review_app

    app = create_review_app(review_session, allowed_hosts=["127.0.0.1", "localhost"])
    auth = {"Authorization": f"Bearer {app.state.token}"}
    with TestClient(app, base_url="http://attacker.example") as c:
        r = c.get("/api/frames", headers=auth)
        assert r.status_code == 400 and "attacker.example" in r.json()["error"]
    with TestClient(app, base_url="http://127.0.0.1:8765") as c:
        assert c.get("/api/frames", headers=auth).status_code == 200


def _with_image(text: str, path: str) -> str:
    data = json.loads(text)
    data["classifier_configs"][0]["examples_to_include"].append({"image": path})
    return json.dumps(data)


def test_image_examples_only_from_the_class_folder_or_recording(review_client, review_session, tmp_path, data_dir):
    classes = review_session.classfile.path
    before = classes.read_text()
    secret = tmp_path.parent / f"{tmp_path.name}-secret.png"
    secret.write_bytes((data_dir / "login_page.png").read_bytes())
    notimage = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    notimage.write_text("private")
    link = classes.parent / "innocent.png"
    os.symlink(secret, link)  # inside the folder, pointing out of it
    messages = set()
    for path in (str(secret), str(notimage), str(secret) + ".missing", "../../etc/passwd", "innocent.png", "~/x.png"):
        r = review_client.put("/api/classes", json={"text": _with_image(before, path)})
        assert r.status_code == 422, (path, r.text)
        messages.add(r.json()["error"].split(": ", 1)[1])
        pinned = json.loads(before) | {"pins": [{"image": path}]}  # a pin names a file too
        r = review_client.put("/api/classes", json={"text": json.dumps(pinned)})
        assert r.status_code == 422, (path, r.text)
        messages.add(r.json()["error"].split(": ", 1)[1])
    assert len(messages) == 1  # one message: nothing tells whether the file exists
    assert "only takes image examples under" in messages.pop()
    assert classes.read_text() == before and not classes.with_name("classes.json.bak").exists()
    cols = review_client.get("/api/session").json()
    assert cols["can_undo"] is False
    # an image of the recording, and one in the class file's folder, are fine
    ok = _with_image(before, str(review_session.root / "frame_001.png"))
    assert review_client.put("/api/classes", json={"text": ok}).status_code == 200, ok
    (classes.parent / "mine.png").write_bytes((data_dir / "login_page.png").read_bytes())
    ok2 = _with_image(classes.read_text(), "mine.png")
    assert review_client.put("/api/classes", json={"text": ok2}).status_code == 200


def test_image_examples_the_file_already_had_stay_editable(review_dirs, review_cache, text_encoder, data_dir, tmp_path):
    """A class file whose own exemplars live elsewhere (the user's choice) can still be edited."""
    from screenstate.review.app import create_review_app
    from screenstate.review.session import ReviewSession

    rec, classes = review_dirs
    shared = tmp_path / "shared-exemplars"
    shared.mkdir()
    (shared / "login.png").write_bytes((data_dir / "login_page.png").read_bytes())
    classes.write_text(_with_image(classes.read_text(), str(shared / "login.png")))
    session = ReviewSession(rec, classes, encoder=text_encoder, cache=review_cache)
    app = create_review_app(session)
    with TestClient(app, headers={"Authorization": f"Bearer {app.state.token}"}) as c:
        data = json.loads(classes.read_text())
        data["classifier_configs"][1]["examples_to_include"].append("a file picker")
        r = c.put("/api/classes", json={"text": json.dumps(data)})
        assert r.status_code == 200, r.text
        assert c.get("/api/examples/1/image").status_code in (200, 404)


def test_review_cli_host_warns_and_keeps_the_token(review_dirs, review_cache, monkeypatch):
    """``--host 0.0.0.0``: a warning, URLs that carry the token, and a Host check."""
    import uvicorn
    from typer.testing import CliRunner

    from screenstate.cli import app as cli

    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    rec, classes = review_dirs
    args = ["review", "--root", str(rec), "--classes", str(classes), "--cache", str(review_cache)]
    r = CliRunner().invoke(cli, [*args, "--encoder", "text", "--host", "0.0.0.0", "--port", "8999"])
    assert r.exit_code == 0, r.output
    assert "warning: serving on 0.0.0.0" in r.output and "other machines" in r.output
    token = served["app"].state.token
    assert f"http://127.0.0.1:8999/?token={token}" in r.output
    assert "http://0.0.0.0" not in r.output
    guard = served["app"].state.guard
    assert guard.allowed_hosts is not None and "127.0.0.1" in guard.allowed_hosts
    assert "evil.example" not in guard.allowed_hosts
    with TestClient(served["app"], base_url="http://evil.example:8999") as c:
        assert c.get("/api/frames", headers={"Authorization": f"Bearer {token}"}).status_code == 400
    with TestClient(served["app"], base_url="http://127.0.0.1:8999") as c:
        assert c.get("/api/frames").status_code == 401
        assert c.get("/api/frames", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # loopback: no warning
    r = CliRunner().invoke(cli, [*args, "--encoder", "text", "--port", "8999"])
    assert r.exit_code == 0 and "warning" not in r.output


def test_a_link_inside_an_exemplar_folder_cannot_lead_out(review_client, review_session, tmp_path, data_dir):
    classes = review_session.classfile.path
    before = classes.read_text()
    secret = tmp_path.parent / f"{tmp_path.name}-outside.png"
    secret.write_bytes((data_dir / "login_page.png").read_bytes())
    folder = classes.parent / "mine"
    folder.mkdir()
    (folder / "a.png").symlink_to(secret)
    data = json.loads(before)
    data["classifier_configs"][0]["examples_to_include"].append({"exemplars": "mine"})
    r = review_client.put("/api/classes", json={"text": json.dumps(data)})
    assert r.status_code == 422 and "only takes image examples under" in r.json()["error"]
    assert classes.read_text() == before
