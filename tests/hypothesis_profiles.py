"""Hypothesis settings shared by the parsers' property tests.

Profiles: HYPOTHESIS_PROFILE=ci runs more examples than the default "dev". They are
registered here, not in conftest.py, and applied only to the modules that import PROFILE.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

for _name, _examples in (("dev", 60), ("ci", 400)):
    try:
        settings.get_profile(_name)
    except InvalidArgument:
        settings.register_profile(_name, max_examples=_examples, deadline=None)
PROFILE = settings(
    settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
