"""Settings: every one documented in .env.example; a bad value names the setting."""
import os

import pytest

from app.config import SETTINGS, ConfigError, env_example, load_config
from tests.conftest import ROOT


def test_env_example_lists_every_setting_with_its_default():
    with open(os.path.join(ROOT, ".env.example")) as fh:
        text = fh.read()
    assert text == env_example()
    for s in SETTINGS:
        assert f"\n{s.name}={s.default}\n" in text


def test_readme_documents_every_setting():
    with open(os.path.join(ROOT, "README.md")) as fh:
        readme = fh.read()
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in readme]
    assert missing == []


def test_defaults():
    c = load_config(environ={}, env_file=None)
    assert (c.host, c.port, c.database_path, c.sqlite_synchronous) == ("127.0.0.1", 8080, "data/app.db", "FULL")


@pytest.mark.parametrize("name,value", [("PORT", "http"), ("PORT", "70000"), ("SQLITE_SYNCHRONOUS", "OFF"),
                                        ("WRITER_BATCH_MAX", "0"), ("LOG_LEVEL", "loud")])
def test_bad_value_names_the_setting(name, value):
    with pytest.raises(ConfigError, match=name):
        load_config(environ={name: value}, env_file=None)


def test_env_file_is_read(tmp_path):
    env = tmp_path / ".env"
    env.write_text("PORT=9999\n")
    assert load_config(environ={}, env_file=str(env)).port == 9999
    assert load_config(environ={"PORT": "9000"}, env_file=str(env)).port == 9000
