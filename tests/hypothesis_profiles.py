"""Hypothesis settings shared by the parsers' property tests.

Profiles: "ci" (the default under CI=true, or HYPOTHESIS_PROFILE=ci) runs more examples
than "dev", the default elsewhere. They are
registered here, not in conftest.py, and applied only to the modules that import PROFILE.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Hypothesis ships a "ci" profile of its own (100 examples); ours replaces it, on purpose,
# in every module that imports this one. Registering twice with equal settings is harmless.
for _name, _examples in (("dev", 60), ("ci", 400)):
    settings.register_profile(_name, max_examples=_examples, deadline=None)
PROFILE = settings(
    settings.get_profile(os.environ.get(
        "HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") == "true" else "dev")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
