"""CDS Hooks client trust: signed JWTs on every call, verified per the 2.0 spec."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from web_helpers import BASE_URL, ISSUER, Signer

from ldn_derm.web.app import create_app
from ldn_derm.web.settings import load_settings

DISCOVERY = f"{BASE_URL}/cds-services"


def get(client: TestClient, token: str | None, path: str = "/cds-services") -> int:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get(path, headers=headers).status_code


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_valid_tokens_are_accepted(client: TestClient, signer: Signer, alg: str) -> None:
    assert get(client, signer.token(DISCOVERY, alg=alg)) == 200


def test_audience_may_be_a_list(client: TestClient, signer: Signer) -> None:
    assert get(client, signer.token(["https://other.example", DISCOVERY])) == 200


def test_missing_and_malformed_authorization_are_401(client: TestClient) -> None:
    assert get(client, None) == 401
    assert client.get("/cds-services", headers={"Authorization": "Basic abc"}).status_code == 401
    assert get(client, "not-a-jwt") == 401
    response = client.get("/cds-services")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"


def _unsigned(payload: dict[str, object]) -> str:
    def b64(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{b64(payload)}."


def test_alg_none_is_rejected(client: TestClient) -> None:
    now = int(time.time())
    token = _unsigned({"iss": ISSUER, "aud": DISCOVERY, "iat": now, "exp": now + 60, "jti": "x"})
    assert get(client, token) == 401


def test_hmac_is_rejected_even_with_the_public_key_as_secret(
    client: TestClient, signer: Signer
) -> None:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": DISCOVERY, "iat": now, "exp": now + 60, "jti": "h"}
    token = jwt.encode(
        payload,
        "shared-secret-0123456789abcdef0123456789",
        algorithm="HS256",
        headers={"kid": "ec-1"},
    )
    assert get(client, token) == 401


def test_expired_token_is_rejected(client: TestClient, signer: Signer) -> None:
    assert get(client, signer.token(DISCOVERY, iat_offset=-4000, lifetime=600)) == 401


def test_token_issued_in_the_future_is_rejected(client: TestClient, signer: Signer) -> None:
    assert get(client, signer.token(DISCOVERY, iat_offset=600)) == 401


def test_overlong_lifetime_is_rejected(client: TestClient, signer: Signer) -> None:
    assert get(client, signer.token(DISCOVERY, lifetime=24 * 3600)) == 401


def test_wrong_audience_is_rejected(client: TestClient, signer: Signer) -> None:
    assert get(client, signer.token(f"{BASE_URL}/cds-services/ldn-order-sign")) == 401
    assert get(client, signer.token("https://evil.example/cds-services")) == 401


def test_unknown_issuer_is_rejected(client: TestClient, signer: Signer) -> None:
    assert get(client, signer.token(DISCOVERY, iss="https://unknown.example")) == 401


def test_unknown_kid_is_rejected(client: TestClient, signer: Signer) -> None:
    assert get(client, signer.token(DISCOVERY, kid="nope")) == 401


def test_key_from_another_signer_is_rejected(client: TestClient) -> None:
    assert get(client, Signer().token(DISCOVERY)) == 401


@pytest.mark.parametrize("claim", ["jti", "exp", "iat", "iss", "aud"])
def test_required_claims(client: TestClient, signer: Signer, claim: str) -> None:
    assert get(client, signer.token(DISCOVERY, drop=(claim,))) == 401


def test_replayed_jti_is_rejected(client: TestClient, signer: Signer) -> None:
    jti = str(uuid.uuid4())
    assert get(client, signer.token(DISCOVERY, jti=jti)) == 200
    assert get(client, signer.token(DISCOVERY, jti=jti)) == 401


def test_replay_cache_is_shared_between_app_instances(
    tmp_path: Path, signer: Signer, secure_settings: object
) -> None:
    """Two workers (two apps on one database) must see the same jti."""
    jti = str(uuid.uuid4())
    token = signer.token(DISCOVERY, jti=jti)
    apps = [create_app(secure_settings), create_app(secure_settings)]  # type: ignore[arg-type]
    with TestClient(apps[0], base_url=BASE_URL) as a, TestClient(apps[1], base_url=BASE_URL) as b:
        assert get(a, token) == 200
        assert get(b, token) == 401


def test_service_and_feedback_check_their_own_audience(client: TestClient, signer: Signer) -> None:
    service = f"{BASE_URL}/cds-services/ldn-order-sign"
    body = {"hook": "order-sign", "hookInstance": str(uuid.uuid4()), "context": {}}
    bad = client.post(
        "/cds-services/ldn-order-sign",
        json=body,
        headers={"Authorization": f"Bearer {signer.token(DISCOVERY)}"},
    )
    assert bad.status_code == 401
    ok = client.post(
        "/cds-services/ldn-order-sign",
        json=body,
        headers={"Authorization": f"Bearer {signer.token(service)}"},
    )
    assert ok.status_code == 400  # authenticated; the body itself is incomplete
    feedback = {"feedback": []}
    for aud in (f"{service}/feedback", service):
        r = client.post(
            "/cds-services/ldn-order-sign/feedback",
            json=feedback,
            headers={"Authorization": f"Bearer {signer.token(aud)}"},
        )
        assert r.status_code == 200


def test_tokens_are_never_logged(
    client: TestClient, signer: Signer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    token = signer.token("https://evil.example/cds-services")
    assert get(client, token) == 401
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert token not in text
    assert token.split(".")[2] not in text


def test_dev_mode_on_loopback_skips_verification(dev_client: TestClient) -> None:
    assert dev_client.get("/cds-services").status_code == 200


def test_dev_mode_on_a_public_address_still_verifies(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, dev=True, host="0.0.0.0")
    assert settings.verify_jwt
    with TestClient(create_app(settings)) as c:
        assert c.get("/cds-services").status_code == 401


def test_jwks_from_url_is_cached(tmp_path: Path, signer: Signer) -> None:
    """A JWKS URL is fetched once and reused (served here by a tiny local HTTP server)."""
    import http.server
    import threading

    hits = []
    body = json.dumps(signer.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/jwks.json"
        settings = load_settings(
            data_dir=tmp_path,
            public_base_url=BASE_URL,
            trusted_issuers=(ISSUER,),
            jwks_urls=(url,),
            host="0.0.0.0",
        )
        with TestClient(create_app(settings), base_url=BASE_URL) as c:
            for alg in ("ES384", "RS384", "ES384"):
                assert get(c, signer.token(DISCOVERY, alg=alg)) == 200
        assert len(hits) == 1
    finally:
        server.shutdown()


def test_settings_refuse_hmac_algorithms() -> None:
    from ldn_derm.errors import InputError

    with pytest.raises(InputError, match="HS256"):
        load_settings(jwt_algorithms=("ES384", "HS256"))
    with pytest.raises(InputError, match="none"):
        load_settings(jwt_algorithms=("none",))


def test_memory_replay_cache_also_rejects_replays(tmp_path: Path, signer: Signer) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(signer.jwks()), encoding="utf-8")
    settings = load_settings(
        data_dir=tmp_path,
        public_base_url=BASE_URL,
        trusted_issuers=(ISSUER,),
        jwks_files=(str(jwks),),
        host="0.0.0.0",
        jti_cache="memory",
    )
    token = signer.token(DISCOVERY)
    with TestClient(create_app(settings), base_url=BASE_URL) as c:
        assert get(c, token) == 200
        assert get(c, token) == 401


def test_replay_cache_reclaims_and_purges_expired_entries(tmp_path: Path) -> None:
    from ldn_derm.registry import migrate
    from ldn_derm.registry.db import make_engine
    from ldn_derm.web.cds.store import ReplayCache

    url = load_settings(data_dir=tmp_path).resolved_database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    cache = ReplayCache(engine, purge_every_seconds=0)
    now = int(time.time())
    assert cache.first_use("iss", "a", now + 60)
    assert not cache.first_use("iss", "a", now + 60)
    assert cache.first_use("other-iss", "a", now + 60)  # jti is per issuer
    assert cache.first_use("iss", "old", now - 10)
    assert cache.first_use("iss", "old", now + 60)  # its earlier entry had expired
    for i in range(1200):
        cache.first_use("iss", f"gone-{i}", now - 5)
    assert cache.housekeep_once() == 1200
    assert not cache.first_use("iss", "a", now + 60)
