"""Fixtures shared by every test layer."""
from __future__ import annotations

import os

import pytest

from lwtest import free_port


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI a test must not skip for want of a tool: `.ci/run` installs kcat, rsyslog and
    Chromium, so such a skip means the install step broke and the suite would be green for
    nothing. Locally (README's test command on a bare machine) those tests skip with the reason."""
    outcome = yield
    rep = outcome.get_result()
    if os.environ.get("CI") == "true" and rep.skipped and "not installed" in str(rep.longrepr):
        rep.outcome = "failed"
        rep.longrepr = f"CI=true but a required tool is missing: {rep.longrepr}"
