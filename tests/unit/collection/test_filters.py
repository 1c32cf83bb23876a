"""The credential filters of rhpds.litemaas (plugins/filter/litemaas.py)."""

from __future__ import annotations

import base64
import string

import pytest

import filterplugins

pytestmark = pytest.mark.unit


F = filterplugins.load("litemaas")


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def test_random_password_is_long_url_safe_and_new_each_time() -> None:
    values = {F.random_password(32) for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert len(value) == 32
        assert set(value) <= set(string.ascii_letters + string.digits)
    assert F.random_password(16, "sk-").startswith("sk-")


def test_random_password_refuses_short_lengths() -> None:
    with pytest.raises(Exception, match="at least 8"):
        F.random_password(4)


def test_secret_value_prefers_the_cluster_then_the_variable_then_fresh() -> None:
    data = {"UI_PASSWORD": _b64("from-cluster")}
    assert F.secret_value(data, "UI_PASSWORD", "from-var", "fresh") == "from-cluster"
    assert F.secret_value({}, "UI_PASSWORD", "from-var", "fresh") == "from-var"
    assert F.secret_value({}, "UI_PASSWORD", "", "fresh") == "fresh"
    assert F.secret_value(None, "UI_PASSWORD", "", "fresh") == "fresh"
    assert F.secret_value({"UI_PASSWORD": ""}, "UI_PASSWORD", "", "fresh") == "fresh"


def test_database_url_credentials_parses_postgres_urls_only() -> None:
    url = "postgresql://litemaas:p%40ss@postgres:5432/litellm_db?sslmode=disable"
    assert F.database_url_credentials(url) == {"user": "litemaas", "password": "p@ss"}
    assert F.database_url_credentials("postgres://u:pw@h/db") == {"user": "u", "password": "pw"}
    assert F.database_url_credentials("postgresql://postgres/db") == {}
    assert F.database_url_credentials("mysql://u:pw@h/db") == {}
    assert F.database_url_credentials("") == {}


def test_data_checksum_is_stable_and_changes_with_any_value() -> None:
    a = F.data_checksum({"A": "1", "B": "2"})
    assert a == F.data_checksum({"B": "2", "A": "1"})
    assert a != F.data_checksum({"A": "1", "B": "3"})


def test_secrets_to_write_skips_unchanged_secrets() -> None:
    labels = {"app.kubernetes.io/part-of": "litemaas", "litemaas.rhpds.io/instance": "x"}
    wanted = {"s1": {"K": "v"}, "s2": {"K": "v"}, "s3": {"K": "v"}}
    existing = [
        {
            "metadata": {"name": "s1", "labels": {**labels, "extra": "kept"}},
            "data": {"K": _b64("v")},
        },
        {"metadata": {"name": "s2", "labels": {}}, "data": {"K": _b64("v")}},  # labels missing
    ]
    result = F.secrets_to_write(existing, wanted, labels, ["s1", "s2", "s3"])
    assert [r["name"] for r in result] == ["s2", "s3"]
    assert result[0]["data"] == {"K": _b64("v")}
    changed = [{"metadata": {"name": "s1", "labels": labels}, "data": {"K": _b64("old")}}]
    assert F.secrets_to_write(changed, wanted, labels, ["s1"])[0]["name"] == "s1"
