"""The assessed record carried to Prescribe: signed, compressed, refused when changed or old."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ldn_derm.errors import InputError
from ldn_derm.web.pages import carry
from ldn_derm.web.settings import load_settings


@pytest.fixture(scope="module")
def request_(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    settings = load_settings(data_dir=tmp_path_factory.mktemp("carry"), secret_key="k" * 40)
    yield SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(settings=settings)))


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=4000), name=st.text(max_size=200))
def test_round_trip(request_: Any, data: bytes, name: str) -> None:
    token = carry.seal(request_, data, name)
    back, back_name = carry.unseal(request_, token)
    assert back == data and back_name == name[: carry.MAX_NAME_CHARS]


def test_a_changed_token_is_refused(request_: Any) -> None:
    token = carry.seal(request_, b'{"resourceType": "Bundle"}', "x.json")
    label, _, rest = token.partition(".")
    forged = label + "." + rest.replace(rest[5], "A" if rest[5] != "A" else "B", 1)
    with pytest.raises(InputError, match="not issued by this server or was changed"):
        carry.unseal(request_, forged)


def test_another_servers_token_is_refused(request_: Any, tmp_path: Path) -> None:
    other = SimpleNamespace(
        app=SimpleNamespace(
            state=SimpleNamespace(settings=load_settings(data_dir=tmp_path, secret_key="o" * 40))
        )
    )
    token = carry.seal(other, b"{}", "x.json")
    with pytest.raises(InputError, match="not issued by this server"):
        carry.unseal(request_, token)


def test_an_old_token_is_refused(request_: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    token = carry.seal(request_, b"{}", "x.json")
    monkeypatch.setattr(carry, "MAX_AGE_SECONDS", -1)
    with pytest.raises(InputError, match="expired"):
        carry.unseal(request_, token)
