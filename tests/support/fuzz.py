"""Hypothesis for the property-based tests, taken through `deps.require`.

Without hypothesis these tests skip locally and fail under CI.

Example:
    >>> from support.fuzz import HealthCheck, given, settings, st
"""

from support.deps import require

hypothesis = require("hypothesis")
st = require("hypothesis.strategies")
given, settings, HealthCheck = hypothesis.given, hypothesis.settings, hypothesis.HealthCheck
