"""The edge tests compare every table before and after a refused request; the alert
watchdog writes its own rows (alerts, outbound events) on its own schedule, so it is off."""

from __future__ import annotations

import pytest

from vitaltrust.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"alert_watchdog": False})
