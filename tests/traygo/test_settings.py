"""Typed settings: flags over `TRAYGO_…` variables over defaults, checked once at the start."""

from __future__ import annotations

import dataclasses

import pytest

from traygo import config
from traygo.errors import ConfigError
from traygo.settings import InferenceSettings, ScrapeSettings, TrainSettings, resolve


def test_defaults_come_from_the_config_definitions() -> None:
    conf = resolve(InferenceSettings, environ={})
    assert conf.max_request_bytes == config.default("max_request_bytes")
    assert conf.pointer_ttl == config.default("pointer_ttl")
    assert conf.store == config.default("store")
    assert conf.cors_origins == ()


def test_env_is_parsed_into_typed_values() -> None:
    env = {
        "TRAYGO_MAX_REQUEST_BYTES": "1000",
        "TRAYGO_FETCH_TIMEOUT": "2.5",
        "TRAYGO_CORS_ORIGINS": " https://a.example, ,https://b.example",
    }
    conf = resolve(InferenceSettings, environ=env)
    assert conf.max_request_bytes == 1000 and isinstance(conf.max_request_bytes, int)
    assert conf.fetch_timeout == 2.5
    assert conf.cors_origins == ("https://a.example", "https://b.example")


def test_flags_win_over_env() -> None:
    env = {"TRAYGO_WORKERS": "4", "TRAYGO_STORE": "/env/store"}
    conf = resolve(ScrapeSettings, {"workers": 2}, environ=env)
    assert (conf.workers, conf.store) == (2, "/env/store")


def test_string_flags_are_validated_too() -> None:
    with pytest.raises(ConfigError, match=r"--workers='0'.*TRAYGO_WORKERS"):
        resolve(ScrapeSettings, {"workers": "0"}, environ={})


def test_a_bad_variable_is_named_with_its_flag() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(TrainSettings, environ={"TRAYGO_MIN_ACCURACY": "2"})
    message = str(caught.value)
    assert "TRAYGO_MIN_ACCURACY='2'" in message and "between 0 and 1" in message
    assert "--min-accuracy" in message


def test_settings_are_frozen_and_read_the_environment_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAYGO_MAX_PIXELS", "500")
    conf = resolve(InferenceSettings)
    monkeypatch.setenv("TRAYGO_MAX_PIXELS", "900")
    assert conf.max_pixels == 500
    with pytest.raises(dataclasses.FrozenInstanceError):
        conf.max_pixels = 1  # type: ignore[misc]


def test_every_field_is_a_defined_setting() -> None:
    for kind in (InferenceSettings, ScrapeSettings, TrainSettings):
        for field in dataclasses.fields(kind):
            assert field.name in config.SETTINGS, (kind.__name__, field.name)


def test_a_setting_without_a_flag_names_only_its_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(InferenceSettings, environ={"TRAYGO_MAX_REQUEST_BYTES": "0"})
    assert "--" not in str(caught.value) and "TRAYGO_MAX_REQUEST_BYTES='0'" in str(caught.value)


def test_the_test_only_loopback_allowance_is_off_unless_exactly_one() -> None:
    assert resolve(InferenceSettings, environ={}).allow_loopback_fetch is False
    on = {"TRAYGO_TEST_ALLOW_LOOPBACK_FETCH": "1"}
    assert resolve(ScrapeSettings, environ=on).allow_loopback_fetch is True
    with pytest.raises(ConfigError, match="TRAYGO_TEST_ALLOW_LOOPBACK_FETCH='yes'"):
        resolve(InferenceSettings, environ={"TRAYGO_TEST_ALLOW_LOOPBACK_FETCH": "yes"})
