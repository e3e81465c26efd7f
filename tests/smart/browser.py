"""Headless Chromium (Debian's chromium + chromedriver) driven by Selenium, with no network beyond
loopback and a fresh profile per browser."""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL_HINT = (
    "headless Chromium is required for the review-app browser tests: "
    "apt-get update && apt-get install -y chromium chromium-driver  (and pip install -e '.[test]' for selenium)"
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def start_chromium(width: int = 1280, height: int = 800, accept_language: str | None = None) -> Any:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        pytest.fail(f"selenium is not installed: {INSTALL_HINT}", pytrace=False)
        raise exc
    binary = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    driver_path = shutil.which("chromedriver") or (CHROMEDRIVER if Path(CHROMEDRIVER).exists() else None)
    if not binary or not driver_path:
        pytest.fail(f"chromium/chromedriver not found: {INSTALL_HINT}", pytrace=False)
    profile = tempfile.mkdtemp(prefix="derm3r-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    driver._derm3r_profile = profile  # removed in stop_chromium
    set_viewport(driver, width, height)
    if accept_language:
        # What a browser set to that language sends (the --lang switch is not applied headless).
        agent = driver.execute_script("return navigator.userAgent")
        driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": agent, "acceptLanguage": accept_language})
    return driver


def stop_chromium(driver: Any) -> None:
    profile = getattr(driver, "_derm3r_profile", None)
    driver.quit()
    if profile:
        shutil.rmtree(profile, ignore_errors=True)


def set_viewport(driver: Any, width: int, height: int) -> None:
    """Exact CSS viewport (window size includes browser chrome even when headless)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})


def screenshot(driver: Any, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked the network for since the last call (from the performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls
