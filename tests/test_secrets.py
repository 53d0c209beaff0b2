"""Secrets come from the environment or a file, never a literal in params, and are masked."""

from __future__ import annotations

import pytest

from runbook.core import secrets
from runbook.core.errors import ParamsError
from runbook.core.params import load_profile
from runbook.deploy.server import launch_command


def test_key_from_env_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-abcdef123")
    assert secrets.api_key(load_profile("local", ["server.api_key_env=MY_KEY"])) == "sk-abcdef123"
    f = tmp_path / "key"
    f.write_text("sk-from-file\n")
    assert secrets.api_key(load_profile("local", [f"server.api_key_file={f}"])) == "sk-from-file"
    assert secrets.api_key(load_profile("local")) is None


def test_missing_env_names_the_field(monkeypatch):
    monkeypatch.delenv("NOPE_KEY", raising=False)
    with pytest.raises(ParamsError, match=r"server\.api_key_env.*NOPE_KEY is not set"):
        secrets.api_key(load_profile("local", ["server.api_key_env=NOPE_KEY"]))


@pytest.mark.parametrize("ov", ["server.api_key_env=sk-live-123-abc", "server.extra_args=[--api-key=sk-1]",
                                "server.api_key=sk-1"])
def test_no_literal_key_in_params(ov):
    with pytest.raises(ParamsError):
        load_profile("local", [ov])


@pytest.mark.parametrize("profile,where", [("local", "secret_env"), ("mi300x-kimi-k2", "argv")])
def test_launch_command_never_shows_the_key(profile, where):
    cmd = launch_command(load_profile(profile), api_key="sk-secret-999")
    assert "sk-secret-999" not in cmd.display() and "sk-secret-999" not in " ".join(cmd.argv)
    assert "sk-secret-999" in cmd.secret_env.values()
    if where == "argv":  # SGLang takes --api-key: the wrapper expands it from the environment
        assert cmd.argv[cmd.argv.index("--api-key") + 1] == "${RUNBOOK_API_KEY}"


def test_scrub_tree_masks_every_file(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "server.log").write_text("args: api_key=sk-secret-999\n")
    (tmp_path / "a.ipynb").write_text('{"text": "Bearer sk-secret-999"}')
    (tmp_path / "clean.txt").write_text("nothing here")
    assert secrets.scrub_tree(tmp_path, ["sk-secret-999"]) == 2
    assert all("sk-secret-999" not in f.read_text() for f in tmp_path.rglob("*") if f.is_file())
