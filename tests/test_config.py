"""The one configuration object: where each value comes from, and clear errors."""

from __future__ import annotations

import pytest

from pettriage.config import Role, Settings


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("COMPLAINTS_CONFIG", "DATABASE_URL", "MLFLOW_TRACKING_URI", "COMPLAINTS_HOME"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_live_under_home(clean_env, tmp_path):
    settings = Settings(home=tmp_path)
    assert settings.paths.data == tmp_path / "data" / "annotated"
    assert settings.models == tmp_path / "models"
    assert settings.db_url == f"sqlite:///{tmp_path / 'complaints.db'}"
    assert settings.tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert settings.open_mode and settings.own_tracking_store


def test_yaml_file_then_environment_then_arguments(clean_env, tmp_path):
    config = tmp_path / "complaints.yaml"
    config.write_text(
        "api_keys: {k-1: quality}\n"
        "train_folds: 7\n"
        "promote_tolerance: 0.05\n"
        "contacts: {on_call: {name: Дежурный, phone: '+7 900 000-00-09'}}\n",
        encoding="utf-8",
    )
    clean_env.setenv("COMPLAINTS_CONFIG", str(config))
    clean_env.setenv("COMPLAINTS_TRAIN_FOLDS", "4")  # the environment beats the file
    clean_env.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    settings = Settings(home=tmp_path, promote_tolerance=0.01)  # arguments beat both
    assert settings.api_keys == {"k-1": Role.quality}
    assert settings.contacts.on_call.phone == "+7 900 000-00-09"
    assert settings.train_folds == 4
    assert settings.promote_tolerance == 0.01
    assert settings.db_url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_a_missing_config_file_is_named(clean_env, tmp_path):
    clean_env.setenv("COMPLAINTS_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(FileNotFoundError, match="expected a YAML file of settings"):
        Settings(home=tmp_path)


def test_a_bad_role_says_what_is_allowed(clean_env, tmp_path):
    clean_env.setenv("COMPLAINTS_API_KEYS", '{"k": "boss"}')
    with pytest.raises(ValueError, match=r"channel.*router.*quality.*admin"):
        Settings(home=tmp_path)


def test_the_command_line_reports_a_broken_configuration(clean_env, tmp_path, capsys):
    from pettriage.cli import main

    clean_env.setenv("COMPLAINTS_CONFIG", str(tmp_path / "nope.yaml"))
    assert main(["data", "check"]) == 2
    assert "error: configuration:" in capsys.readouterr().err
