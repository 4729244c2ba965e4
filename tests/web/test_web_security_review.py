"""Security review regressions: escaping, headers, body limits on uploads, static-file paths,
error bodies, and the CDS service's fetches from the EHR-given fhirServer."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from web_helpers import (
    BASE_URL,
    ISSUER,
    Signer,
    hook_request,
    naltrexone_order,
    prefetch_from_bundle,
    synthea_bundle,
)

from ldn_derm.errors import KnowledgeError
from ldn_derm.web.app import create_app
from ldn_derm.web.cds import prefetch as prefetch_module
from ldn_derm.web.cds.prefetch import PrefetchMissingError, gather
from ldn_derm.web.cds.services import services
from ldn_derm.web.settings import load_settings

TOKEN = {
    "access_token": "secret-token",
    "token_type": "Bearer",
    "expires_in": 300,
    "scope": "user/*.read",
    "subject": "ldn",
}


# ------------------------------------------------------------------ templates and headers


def test_every_template_is_autoescaped_and_none_marks_data_safe() -> None:
    from ldn_derm.web.pages import templates
    from ldn_derm.web.registry.state import RegistryWeb

    envs = [templates().env, RegistryWeb(load_settings()).templates.env]
    for env in envs:
        rendered = env.from_string("{{ v }}").render(v='<script>alert("x")</script>')
        assert "<script>" not in rendered and "&lt;script&gt;" in rendered
        for name in env.list_templates():
            auto = env.autoescape
            assert auto is True or (callable(auto) and auto(name)), name
            source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
            assert "|safe" not in source.replace(" ", ""), name
            assert "autoescape false" not in source, name


def test_html_pages_carry_csp_and_the_other_security_headers(dev_client: TestClient) -> None:
    for path in ("/", "/assess", "/prescribe", "/evidence", "/references", "/registry/login"):
        r = dev_client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"


def test_user_text_in_an_upload_error_is_escaped(dev_client: TestClient) -> None:
    evil = '<img src=x onerror="alert(1)">.json'
    r = dev_client.post(
        "/ui/assess/upload", files={"bundle": (evil, b"not json", "application/json")}
    )
    assert "<img src=x" not in r.text and "&lt;img src=x" in r.text


# ------------------------------------------------------------------ bodies and files


@pytest.fixture()
def small_limit_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(
        data_dir=tmp_path / "small", dev=True, host="127.0.0.1", max_body_bytes=4096
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "review-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; filename="b.json"\r\n'
            f"Content-Type: application/json\r\n\r\n"
        ).encode()
        + b"x" * size
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_multipart_upload_over_the_limit_is_413(small_limit_client: TestClient) -> None:
    body, ctype = _multipart(10_000)
    r = small_limit_client.post("/ui/assess/upload", content=body, headers={"content-type": ctype})
    assert r.status_code == 413
    assert r.headers["content-type"] == "application/problem+json"


def test_chunked_multipart_upload_over_the_limit_is_413(small_limit_client: TestClient) -> None:
    body, ctype = _multipart(10_000)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        for i in range(0, len(body), 1000):
            yield body[i : i + 1000]

    r = small_limit_client.post(
        "/ui/assess/upload", content=chunks(), headers={"content-type": ctype}
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e%2fsettings.py",
        "/static/vendor/../../app.py",
        "/registry/static/..%2fstate.py",
        "/registry/static/%2e%2e/%2e%2e/app.py",
        "/static//etc/passwd",
        "/static/%2fetc%2fpasswd",
    ],
)
def test_static_files_never_serve_outside_their_folder(dev_client: TestClient, path: str) -> None:
    r = dev_client.get(path)
    assert r.status_code == 404
    assert "import" not in r.text and "root:" not in r.text


# ------------------------------------------------------------------ error bodies


def _raising_client(tmp_path: Path, exc: Exception) -> TestClient:
    app = create_app(load_settings(data_dir=tmp_path / "raise", dev=True, host="127.0.0.1"))

    @app.get("/api/v1/_review_raise")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


def test_knowledge_errors_do_not_reveal_file_paths(tmp_path: Path) -> None:
    secret = "/opt/ldn/site-packages/ldn_derm/knowledge/data/drug.yaml"
    with _raising_client(tmp_path, KnowledgeError(f"{secret}: cannot be read")) as c:
        r = c.get("/api/v1/_review_raise")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert secret not in r.text and "drug.yaml" not in r.text
    assert r.json()["type"] == "/problems#knowledge-error"


def test_unexpected_errors_answer_a_bare_problem(tmp_path: Path) -> None:
    with _raising_client(tmp_path, RuntimeError("/srv/secret/path.py line 3")) as c:
        r = c.get("/api/v1/_review_raise")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "/srv/secret" not in r.text and "Traceback" not in r.text
    assert set(r.json()) == {"type", "title", "status", "detail"}


def test_4xx_bodies_are_problem_details_without_internals(dev_client: TestClient) -> None:
    for r in (
        dev_client.get("/api/v1/no-such-thing"),
        dev_client.delete("/api/v1/ping"),
        dev_client.post(
            "/api/v1/assess", content=b"{not json", headers={"content-type": "application/json"}
        ),
        dev_client.post("/api/v1/simulate", json={"days": "many"}),
    ):
        assert 400 <= r.status_code < 500
        assert r.headers["content-type"] == "application/problem+json"
        assert {"type", "title", "status"} <= set(r.json())
        assert "Traceback" not in r.text and "site-packages" not in r.text and "/work" not in r.text


# ------------------------------------------------------------------ CDS Hooks JWT


def test_jku_and_embedded_jwk_headers_are_never_followed(
    client: TestClient, signer: Signer
) -> None:
    attacker = ec.generate_private_key(ec.SECP384R1())
    aud = f"{BASE_URL}/cds-services"
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": aud, "iat": now, "exp": now + 300, "jti": "x-1"}
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
    for extra in (
        {"jku": "https://attacker.example/jwks.json"},
        {"jwk": public},
        {"x5u": "https://attacker.example/cert.pem"},
    ):
        token = jwt.encode(
            claims, attacker, algorithm="ES384", headers={"kid": "ec-1", "typ": "JWT", **extra}
        )
        r = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401


def test_401_bodies_say_nothing_about_the_reason(client: TestClient, signer: Signer) -> None:
    aud = f"{BASE_URL}/cds-services"
    for token in (
        signer.token(aud, drop=("jti",)),
        signer.token(aud, kid="unknown-kid"),
        signer.token(f"{BASE_URL}/elsewhere"),
        signer.token(aud, lifetime=10 * 365 * 86400),
    ):
        r = client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert set(r.json()) == {"type", "title", "status"}


def test_a_token_without_kid_header_is_refused(client: TestClient, signer: Signer) -> None:
    aud = f"{BASE_URL}/cds-services"
    now = int(time.time())
    token = jwt.encode(
        {"iss": ISSUER, "aud": aud, "iat": now, "exp": now + 60, "jti": "no-kid"},
        signer.ec_key,
        algorithm="ES384",
    )
    assert (
        client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )


# ------------------------------------------------------------------ fhirServer fetches


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@pytest.fixture()
def serve() -> Iterator[Callable[[Handler], tuple[str, list[str]]]]:
    """Start small HTTP servers on loopback; each answers with the given handler."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(handle: Handler) -> tuple[str, list[str]]:
        hits: list[str] = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                handle(self)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/fhir", hits

    yield start
    for server in servers:
        server.shutdown()


def _chet() -> tuple[str, dict[str, Any]]:
    return prefetch_from_bundle(synthea_bundle("Chet_Thompson"))


def _answer(prefetch: dict[str, Any]) -> Handler:
    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0]
        key = (
            "patient"
            if "/Patient/" in path
            else "conditions"
            if path.endswith("Condition")
            else "medications"
        )
        body = json.dumps(prefetch.get(key) or {"resourceType": "Bundle", "entry": []}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


def _body(pid: str, server: str, prefetch: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "context": {"patientId": pid},
        "prefetch": prefetch or {},
        "fhirServer": server,
        "fhirAuthorization": TOKEN,
    }


def test_unverified_dev_server_fetches_only_listed_servers(
    serve: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    pid, prefetch = _chet()
    order_sign = services()["ldn-order-sign"]
    url, hits = serve(_answer(prefetch))
    # refused at once, this machine's ports too: no connection is attempted
    for server in ("http://203.0.113.9/fhir", url):
        with pytest.raises(PrefetchMissingError):
            asyncio.run(gather(order_sign, _body(pid, server), 5.0, listed_only=True))
    assert hits == []
    for server in ("file:///etc/passwd", "gopher://127.0.0.1/", "ftp://127.0.0.1/fhir"):
        with pytest.raises(PrefetchMissingError):
            asyncio.run(gather(order_sign, _body(pid, server), 5.0))
    listed = (url + "/",)
    got = asyncio.run(
        gather(order_sign, _body(pid, url), 2.0, listed_only=True, allowed_servers=listed)
    )
    assert got["patient"] and hits


def test_dev_server_refuses_a_remote_fhir_server(dev_client: TestClient) -> None:
    pid, _ = _chet()
    body = hook_request("order-sign", pid, None, [naltrexone_order(pid)])
    body.update(fhirServer="http://203.0.113.9/fhir", fhirAuthorization=TOKEN)
    started = time.monotonic()
    r = dev_client.post("/cds-services/ldn-order-sign", json=body)
    assert r.status_code == 412 and time.monotonic() - started < 3


def test_oversized_fhir_responses_count_as_failed_reads(
    serve: Callable[[Handler], tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, prefetch = _chet()
    monkeypatch.setattr(prefetch_module, "MAX_FHIR_RESPONSE_BYTES", 2000)

    def huge_without_length(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.end_headers()
        h.wfile.write(b'{"resourceType": "Bundle", "entry": [' + b" " * 5000 + b"]}")

    # the Synthea searchsets are larger than 2000 bytes: announced in Content-Length, or not
    for handler in (_answer(prefetch), huge_without_length):
        url, hits = serve(handler)
        body = _body(pid, url, {"patient": prefetch["patient"]})
        with pytest.raises(PrefetchMissingError):
            asyncio.run(
                gather(services()["ldn-order-sign"], body, 2.0, allowed_servers=(url + "/",))
            )
        assert hits


def test_redirects_from_the_fhir_server_are_not_followed(
    serve: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    pid, prefetch = _chet()
    elsewhere, elsewhere_hits = serve(_answer(prefetch))

    def redirect(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", elsewhere + h.path.removeprefix("/fhir"))
        h.send_header("Content-Length", "0")
        h.end_headers()

    url, hits = serve(redirect)
    with pytest.raises(PrefetchMissingError):
        asyncio.run(
            gather(services()["ldn-order-sign"], _body(pid, url), 2.0, allowed_servers=(url + "/",))
        )
    assert hits and not elsewhere_hits  # the token never went to the other server


def test_a_slowly_dripping_fhir_server_hits_the_deadline(
    serve: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    pid, _ = _chet()

    def drip(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.end_headers()
        try:
            for _ in range(40):  # each byte comes before the per-read timeout, forever
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    url, _ = serve(drip)
    started = time.monotonic()
    with pytest.raises(PrefetchMissingError):
        asyncio.run(
            gather(services()["ldn-order-sign"], _body(pid, url), 0.3, allowed_servers=(url + "/",))
        )
    assert time.monotonic() - started < 2.5


def test_svg_responses_carry_the_page_policy(dev_client: TestClient) -> None:
    r = dev_client.post("/api/v1/simulate/plot.svg", json={"days": 1, "subjects": 5})
    if r.status_code == 503:  # the plotting extra is not installed on this server
        pytest.skip(r.json().get("detail", "plotting not available"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_an_oversized_jwks_is_refused(
    serve: Callable[[Handler], tuple[str, list[str]]], signer: Signer, tmp_path: Path
) -> None:
    from ldn_derm.web.cds.trust import MAX_JWKS_BYTES, JwksStore, UntrustedError

    good = json.dumps(signer.jwks()).encode()
    huge = json.dumps({"keys": [], "pad": "x" * (MAX_JWKS_BYTES + 1)}).encode()

    def answer(body: bytes) -> Handler:
        def handle(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.end_headers()  # no Content-Length: the cap applies while reading
            h.wfile.write(body)

        return handle

    good_url, _ = serve(answer(good))
    huge_url, _ = serve(answer(huge))
    store = JwksStore(load_settings(data_dir=tmp_path))
    assert set(store._fetch(good_url)) == {"ec-1", "rsa-1"}
    with pytest.raises(UntrustedError, match="ValueError"):
        store._fetch(huge_url)


# ------------------------------------------------------------------ fhirServer allow-list


def test_fhir_servers_are_listed_per_issuer_and_matched_by_base() -> None:
    from ldn_derm.web.settings import fhir_server_allowed

    settings = load_settings(
        trusted_issuers=("https://ehr-a.example", "https://ehr-b.example"),
        fhir_servers=("https://EHR.example/fhir/ https://ehr.example/r4", ""),
    )
    allowed = settings.fhir_servers_for("https://ehr-a.example")
    assert allowed == ("https://ehr.example/fhir/", "https://ehr.example/r4/")
    for ok in ("https://ehr.example/fhir", "https://ehr.example/fhir/", "https://EHR.example/r4/x"):
        assert fhir_server_allowed(ok, allowed), ok
    for bad in (
        "https://ehr.example/fhirx",
        "https://ehr.example.evil.example/fhir",
        "https://ehr.example@evil.example/fhir",
        "https://ehr.example:8443/fhir",
        "http://ehr.example/fhir",
        "https://evil.example/fhir",
        # dot segments would leave the listed path once httpx resolves them
        "https://ehr.example/fhir/../admin",
        "https://ehr.example/fhir/%2e%2e/admin",
        "https://ehr.example/fhir/./../admin",
        "https://ehr.exa\tmple/fhir",  # httpx cannot parse it
    ):
        assert not fhir_server_allowed(bad, allowed), bad
    assert fhir_server_allowed("https://EHR.example:443/fhir/R4", allowed)  # default port
    assert settings.fhir_servers_for("https://ehr-b.example") == ()  # no list: any server
    assert settings.fhir_servers_for("https://unknown.example") == ()


@pytest.mark.parametrize(
    ("servers", "needle"),
    [
        (("ftp://ehr.example/fhir",), "not a plain http(s) FHIR base URL"),
        (("https://ehr.example/fhir?_format=json",), "a query"),
        (("https://[bad/fhir",), "not a plain http(s) FHIR base URL"),
        (("https:///fhir",), "with a host"),
        (("https://user@ehr.example/fhir",), "user info"),
        (("https://ehr.example/fhir/../admin",), "dot segments"),
        (("https://a.example/fhir", "https://b.example/fhir"), "more of them than"),
    ],
)
def test_bad_fhir_servers_settings_are_refused(servers: tuple[str, ...], needle: str) -> None:
    import re

    from ldn_derm.errors import InputError

    with pytest.raises(InputError, match=re.escape(needle)):
        load_settings(trusted_issuers=("https://ehr.example",), fhir_servers=servers)


def test_a_fhir_server_outside_the_issuers_list_is_never_contacted(
    serve: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    pid, prefetch = _chet()
    order_sign = services()["ldn-order-sign"]
    url, hits = serve(_answer(prefetch))
    with pytest.raises(PrefetchMissingError):
        asyncio.run(
            gather(order_sign, _body(pid, url), 2.0, allowed_servers=("https://ehr.example/fhir/",))
        )
    assert hits == []
    got = asyncio.run(gather(order_sign, _body(pid, url), 2.0, allowed_servers=(url + "/",)))
    assert got["patient"] and hits


def test_order_sign_answers_412_for_a_fhir_server_its_issuer_may_not_name(
    serve: Callable[[Handler], tuple[str, list[str]]], tmp_path: Path, signer: Signer
) -> None:
    pid, prefetch = _chet()
    url, hits = serve(_answer(prefetch))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(signer.jwks()), encoding="utf-8")
    settings = load_settings(
        data_dir=tmp_path / "data",
        public_base_url=BASE_URL,
        trusted_issuers=(ISSUER,),
        jwks_files=(str(jwks),),
        fhir_servers=("https://fhir.ehr.example.org/r4",),
        host="0.0.0.0",
    )
    service = f"{BASE_URL}/cds-services/ldn-order-sign"
    body = hook_request("order-sign", pid, None, [naltrexone_order(pid)])
    body.update(fhirServer=url, fhirAuthorization=TOKEN)
    with TestClient(create_app(settings), base_url=BASE_URL) as client:
        r = client.post(
            "/cds-services/ldn-order-sign",
            json=body,
            headers={"Authorization": f"Bearer {signer.token(service)}"},
        )
    assert r.status_code == 412, r.text
    assert hits == []


def test_per_issuer_settings_from_the_environment_keep_empty_positions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LDN_TRUSTED_ISSUERS", "https://a.example, https://b.example")
    monkeypatch.setenv("LDN_JWKS_URLS", ",https://b.example/jwks")
    monkeypatch.setenv("LDN_FHIR_SERVERS", "https://a.example/fhir https://a.example/r4")
    settings = load_settings()
    assert settings.issuer_keys == {
        "https://a.example": ("", ""),
        "https://b.example": ("https://b.example/jwks", ""),
    }
    assert settings.fhir_servers_for("https://a.example") == (
        "https://a.example/fhir/",
        "https://a.example/r4/",
    )
    assert settings.fhir_servers_for("https://b.example") == ()


def test_a_trailing_comma_in_a_per_issuer_setting_adds_no_issuer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LDN_TRUSTED_ISSUERS", "https://a.example")
    monkeypatch.setenv("LDN_JWKS_URLS", "https://a.example/jwks,")
    assert load_settings().issuer_keys == {"https://a.example": ("https://a.example/jwks", "")}


@pytest.mark.parametrize(
    "server",
    [
        "http://127.0.0.1\t:1/fhir",
        "http://[::1/fhir",
        "http://127.0.0.1/fhir/../x",
        "http://127.0.0.1:99999/fhir",  # a port no socket accepts
        "http://127.0.0.1/fhir/..;/x",
        "http://127.0.0.1/fhir/..%2Fx",
    ],
)
def test_a_malformed_fhir_server_is_unusable_not_a_crash(
    dev_client: TestClient, server: str
) -> None:
    pid, _ = _chet()
    body = hook_request("order-sign", pid, None, [naltrexone_order(pid)])
    body.update(fhirServer=server, fhirAuthorization=TOKEN)
    r = dev_client.post("/cds-services/ldn-order-sign", json=body)
    assert r.status_code == 412, r.text


def test_production_reads_plain_http_fhir_servers_only_when_listed(
    serve: Callable[[Handler], tuple[str, list[str]]], tmp_path: Path, signer: Signer
) -> None:
    pid, prefetch = _chet()
    url, hits = serve(_answer(prefetch))  # an http server on loopback
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(signer.jwks()), encoding="utf-8")
    service = f"{BASE_URL}/cds-services/ldn-order-sign"
    body = hook_request("order-sign", pid, None, [naltrexone_order(pid)])
    body.update(fhirServer=url, fhirAuthorization=TOKEN)

    def call(fhir_servers: tuple[str, ...]) -> int:
        settings = load_settings(
            data_dir=tmp_path / "data",
            public_base_url=BASE_URL,
            trusted_issuers=(ISSUER,),
            jwks_files=(str(jwks),),
            fhir_servers=fhir_servers,
            host="0.0.0.0",
        )
        with TestClient(create_app(settings), base_url=BASE_URL) as client:
            auth = {"Authorization": f"Bearer {signer.token(service)}"}
            return client.post("/cds-services/ldn-order-sign", json=body, headers=auth).status_code

    assert call(()) == 412 and hits == []  # no list: https only (CDS Hooks, production data)
    assert call((url,)) == 200 and hits  # listed explicitly: read


def test_next_links_never_leave_the_checked_base(
    serve: Callable[[Handler], tuple[str, list[str]]],
) -> None:
    pid, prefetch = _chet()

    def handle(h: http.server.BaseHTTPRequestHandler) -> None:
        port = h.server.server_address[1]
        page: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": []}
        if h.path.startswith("/fhir/Condition"):  # a next link that resolves outside /fhir/
            page["link"] = [
                {"relation": "next", "url": f"http://127.0.0.1:{port}/fhir/../admin?page=2"}
            ]
        elif "/Patient/" in h.path:
            page = prefetch["patient"]
        body = json.dumps(page).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/fhir+json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    url, hits = serve(handle)
    got = asyncio.run(
        gather(
            services()["ldn-order-sign"], _body(pid, url + " "), 2.0, allowed_servers=(url + "/",)
        )
    )
    assert got["patient"]
    assert hits and all(h.startswith("/fhir/") for h in hits), hits  # /admin never asked


def test_an_oversized_upload_from_a_browser_gets_the_error_page(
    small_limit_client: TestClient,
) -> None:
    """htmx swaps 4xx answers (base.html's responseHandling), so a 413 must be a page with
    the error region, not JSON; API clients keep problem+json."""
    body, ctype = _multipart(10_000)
    for headers in ({"HX-Request": "true"}, {"Accept": "text/html"}):
        r = small_limit_client.post(
            "/ui/assess/upload", content=body, headers={"content-type": ctype, **headers}
        )
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("text/html")
        assert 'id="problem"' in r.text and "4,096 bytes" in r.text
