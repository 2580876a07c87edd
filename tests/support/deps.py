"""Optional test dependencies: skipped locally, an error in CI.

A test that needs a package outside the base install (transformers, torch,
safetensors, seqeval, hypothesis, ...) asks for it with `require`. On a
developer machine without it the test is skipped with the install hint; under
CI (`CI` set to a true value, as GitHub Actions and most CI systems do) the
test fails instead, so a broken CI image can never pass by skipping.
"""

import importlib
import os

import pytest

_TRUE_VALUES = ("1", "true", "yes", "on")
INSTALL_HINT = 'pip install -e ".[test]"'


def in_ci():
    """Whether the tests run under CI (environment variable `CI` is true)."""
    return os.environ.get("CI", "").strip().lower() in _TRUE_VALUES


def require(module_name):
    """Imports an optional test dependency.

    Call it at module level (it then skips or fails the whole module) or in a
    test.

    Args:
        module_name: the importable name, e.g. "transformers" or "safetensors.numpy".

    Returns:
        The imported module.

    Raises:
        pytest.fail.Exception: the module is missing and `in_ci()`.
        pytest.skip.Exception: the module is missing outside CI.

    Example:
        >>> transformers = require("transformers")
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        reason = f"test dependency {module_name!r} is missing ({error}); {INSTALL_HINT}"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: a missing test dependency is an error)",
                        pytrace=False)
        pytest.skip(reason, allow_module_level=True)
