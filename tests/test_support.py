"""The shared test helpers: a missing dependency skips locally and fails in CI."""

import socket

import keras
import pytest
from support.deps import require
from support.parity import assert_same_weights
from support.ports import free_ports

MISSING = "no_such_test_dependency_kbi"


def test_require_returns_the_module():
    assert require("json.decoder").JSONDecoder


@pytest.mark.parametrize("ci_value", ["", "false", "0"])
def test_missing_dependency_skips_outside_ci(monkeypatch, ci_value):
    monkeypatch.setenv("CI", ci_value)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        require(MISSING)


@pytest.mark.parametrize("ci_value", ["true", "1", "True"])
def test_missing_dependency_fails_in_ci(monkeypatch, ci_value):
    monkeypatch.setenv("CI", ci_value)
    with pytest.raises(pytest.fail.Exception, match=f"{MISSING}.*CI=true"):
        require(MISSING)


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(3)
    assert len(set(ports)) == 3
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_dropped_weight_fails_the_comparison():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Dense(1)])
    assert_same_weights(model.weights, model.weights)
    with pytest.raises(AssertionError, match="only expected"):
        assert_same_weights(model.weights, model.weights[:-1])
