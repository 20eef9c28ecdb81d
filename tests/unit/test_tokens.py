"""Access tokens: HS256 issued here, RS256 from an external identity provider through its JWKS endpoint."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from todo_core.auth import TokenIssuer
from todo_core.domain.errors import Unauthorized

SECRET = "s" * 48


@pytest.fixture(scope="module")
def idp() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """A local HTTP server publishing a JWKS document, as an identity provider does."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", key
    server.shutdown()


def _rs256(key: rsa.RSAPrivateKey, **claims: object) -> str:
    now = datetime.now(UTC)
    base = {"sub": str(uuid.uuid4()), "aud": "todo-cloud", "iat": now, "exp": now + timedelta(minutes=5)}
    return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


def test_hs256_round_trip_and_rejections() -> None:
    tokens = TokenIssuer(SECRET, issuer="todo-cloud", ttl_seconds=60)
    uid = uuid.uuid4()
    assert tokens.verify(tokens.issue(uid)).user_id == uid
    with pytest.raises(Unauthorized):
        TokenIssuer("o" * 48, issuer="todo-cloud", ttl_seconds=60).verify(tokens.issue(uid))
    with pytest.raises(Unauthorized):
        tokens.verify(tokens.issue(uid, scope="events"))  # a ticket for another use is not an API token
    with pytest.raises(Unauthorized):
        tokens.verify(tokens.issue(uid, ttl_seconds=-10))


def test_rs256_tokens_from_the_identity_provider(idp: tuple[str, rsa.RSAPrivateKey]) -> None:
    url, key = idp
    tokens = TokenIssuer(SECRET, issuer="todo-cloud", ttl_seconds=60, jwks_url=url, audience="todo-cloud")
    uid = uuid.uuid4()
    assert tokens.verify(_rs256(key, sub=str(uid))).user_id == uid
    with pytest.raises(Unauthorized):
        tokens.verify(_rs256(key, aud="someone-else"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(Unauthorized):
        tokens.verify(_rs256(other))  # signed by a key the provider does not publish
    without_idp = TokenIssuer(SECRET, issuer="todo-cloud", ttl_seconds=60)
    with pytest.raises(Unauthorized):
        without_idp.verify(_rs256(key))
