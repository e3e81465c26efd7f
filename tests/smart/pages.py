"""Page helpers shared by the browser tests (Selenium imports fail loudly with the install hint)."""

from __future__ import annotations

from typing import Any

import pytest

from .browser import INSTALL_HINT
from .conftest import Stack

try:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as exc:  # fail loudly with the fix, never skip: CI must run these
    raise ImportError(f"selenium missing: {INSTALL_HINT}") from exc

WAIT = 30  # seconds; generous for 2 shared cores


def open_app(browser: Any, stack: Stack, **kwargs: Any) -> None:
    browser.get(stack.launch_url(**kwargs))
    WebDriverWait(browser, WAIT).until(lambda d: app_state(d) in ("ready", "error"))
    state = app_state(browser)
    if state != "ready":
        pytest.fail(f"app did not load: {browser.find_element(By.ID, 'app-error').text}")


def app_state(browser: Any) -> str | None:
    # Read through JS: the launch redirects replace the document, so element handles go stale.
    return browser.execute_script("return document.body ? document.body.dataset.state || null : null")


def wait_photos_loaded(browser: Any, count: int) -> None:
    WebDriverWait(browser, WAIT).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#photos img.photo')].filter(i => i.complete && i.naturalWidth > 0).length") == count)


def text(browser: Any, css: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, css).text


__all__ = ["By", "Keys", "WebDriverWait", "ec", "WAIT", "app_state", "open_app", "text", "wait_photos_loaded"]
