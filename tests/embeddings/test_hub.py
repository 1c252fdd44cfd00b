"""Hub reachability goes through huggingface_hub: its offline flag, its endpoint (HF_ENDPOINT,
a mirror) and its HTTP session (proxies), never a raw socket to one fixed host."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from huggingface_hub import constants

from screenstate.embeddings.hub import hub_reachable


class _Mirror(BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def mirror():
    server = HTTPServer(("127.0.0.1", 0), _Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_mirror_set_as_the_hub_endpoint_is_what_is_checked(mirror, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", mirror)
    assert hub_reachable(timeout=5)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert not hub_reachable(timeout=5)


def test_offline_mode_answers_without_touching_the_network(mirror, monkeypatch):
    def no_network(*a, **k):
        raise AssertionError("offline mode must not open a connection")

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "ENDPOINT", mirror)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert not hub_reachable()
