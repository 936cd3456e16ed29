"""The `notify:` key (issue 19): targets, secrets from the environment, kinds and URL filters,
errors that name the entry, and what `config show` prints."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from scraper.cli import main
from scraper.config import config_to_yaml, load_config_text
from scraper.config._model import DEFAULT_NOTIFY_ON
from scraper.errors import ConfigError

BASE = "name: w\nstart_urls: [http://127.0.0.1:8000/]\nnetwork: {allow_loopback: true}\n"


def test_targets_with_their_defaults_and_a_secret_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t")
    cfg = load_config_text(BASE + """notify:
  - apprise: "mailto://me:pw@127.0.0.1:2525?from=w@example.org&to=you@example.org"
  - webhook: "http://127.0.0.1:9000/hook"
    secret: "${HOOK_SECRET}"
    on: [summary, gone]
    match: "^http://127\\\\.0\\\\.0\\\\.1:8000/wiki/"
""")
    mail, hook = cfg.notify
    assert (mail.kind, mail.on, mail.match, mail.secret) == ("apprise", DEFAULT_NOTIFY_ON,
                                                             None, None)
    assert hook.kind == "webhook" and hook.on == ("summary", "gone")
    assert hook.secret == "${HOOK_SECRET}" and hook.secret_value is not None
    assert hook.secret_value.reveal() == "s3cr3t" and str(hook.secret_value) == "***"
    assert hook.match is not None and hook.match.search("http://127.0.0.1:8000/wiki/A")


def test_config_show_and_the_run_row_hold_no_credentials(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("HOOK_SECRET", "s3cr3t")
    text = BASE + """notify:
  - apprise: "mailto://me:mailpass@127.0.0.1:2525?from=w@example.org&to=you@example.org"
  - webhook: "https://hooks.example.org/T0K3N"
    secret: "${HOOK_SECRET}"
  - webhook: "https://hooks.example.org/other"
    secret: literal-secret
"""
    shown = config_to_yaml(load_config_text(text))
    for secret in ("mailpass", "T0K3N", "s3cr3t", "literal-secret", "you@example.org"):
        assert secret not in shown
    assert "${HOOK_SECRET}" in shown and "mailto://***@127.0.0.1:2525?***" in shown
    from pathlib import Path

    path = Path(str(tmp_path)) / "c.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["config", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert "mailpass" not in result.output and "literal-secret" not in result.output


@pytest.mark.parametrize(("entry", "key", "message"), [
    ("- webhook: ftp://x/", "notify[0].webhook", "must be an http or https URL"),
    ("- apprise: nosuchscheme://x", "notify[0].apprise", "Apprise does not understand"),
    ("- apprise: justtext", "notify[0].apprise", "must be an Apprise URL"),
    ("- {webhook: 'http://x/', apprise: 'json://x'}", "notify[0]", "exactly one of"),
    ("- {}", "notify[0]", "exactly one of"),
    ("- webhook: 'http://x/'\n  secret: ${NOT_SET_ANYWHERE}", "notify[0].secret",
     "NOT_SET_ANYWHERE, which is not set"),
    ("- apprise: 'json://x'\n  secret: abc", "notify[0].secret", "only a webhook is signed"),
    ("- webhook: 'http://x/'\n  on: [edited]", "notify[0].on[0]", "must be one of changed"),
    ("- webhook: 'http://x/'\n  on: []", "notify[0].on", "at least one"),
    ("- webhook: 'http://x/'\n  match: '(a+)+$'", "notify[0].match", "refused regular"),
    ("- webhook: 'http://x/'\n  match: '('", "notify[0].match", "not a valid regular"),
    ("- webhook: 'http://x/'\n  when: always", "notify[0].when", "unknown key 'when'"),
    ("- webhook: 'http://x/'\n- webhook: 'http://x/'", "notify[1].webhook", "the same target"),
    ("  webhook: 'http://x/'", "notify", "must be a list"),
])
def test_a_bad_entry_is_refused_naming_its_key(entry: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_config_text(BASE + "notify:\n" + entry + "\n", "watch.yaml")
    assert caught.value.key == key and caught.value.line is not None
    assert caught.value.path == "watch.yaml"
