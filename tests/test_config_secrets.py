"""expand_secrets and Secret: ${ENV} and ${file:PATH} in config strings, never printed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from scraper.config.secrets import Secret, expand_secrets
from scraper.errors import ConfigError


def test_env_references_expand_and_the_result_never_prints() -> None:
    secret = expand_secrets("Bearer ${TOKEN}-${OTHER}", key="request.headers.X",
                            environ={"TOKEN": "s3cr3t", "OTHER": "x"})
    assert secret.reveal() == "Bearer s3cr3t-x"
    assert str(secret) == repr(secret) == f"{secret}" == "***"
    assert "s3cr3t" not in repr({"k": secret, "t": (secret,)})
    assert pickle.loads(pickle.dumps(secret)) == secret


def test_dollar_dollar_is_a_literal_reference() -> None:
    assert expand_secrets("a$${B}", key="k", environ={}).reveal() == "a${B}"


def test_a_missing_variable_names_the_key_file_and_line() -> None:
    with pytest.raises(ConfigError) as err:
        expand_secrets("${NOPE_NOT_SET}", key="request.auth.bearer", environ={},
                       path="site.yaml", line=7)
    assert str(err.value) == ("site.yaml:7: request.auth.bearer: refers to the environment "
                              "variable NOPE_NOT_SET, which is not set")


@pytest.mark.parametrize("text", ["${", "abc ${X", "${1BAD}", "${}"])
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="request.headers.A"):
        expand_secrets(text, key="request.headers.A", environ={"X": "1"})


def test_file_references_read_the_file_without_its_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t0ken\n")
    (tmp_path / "crlf").write_bytes(b"pw\r\n")
    assert expand_secrets("${file:token}", key="k", base_dir=tmp_path).reveal() == "t0ken"
    assert expand_secrets(f"${{file:{tmp_path / 'crlf'}}}", key="k").reveal() == "pw"
    with pytest.raises(ConfigError, match=r"k: cannot read the secret file .*missing"):
        expand_secrets("${file:missing}", key="k", base_dir=tmp_path)


def test_secret_equality_is_by_value() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")
    assert len({Secret("a"), Secret("a")}) == 1
