"""Pages that fight back: consent walls, captchas, layouts we no longer understand."""

from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver

from scraper.engines import Parsed

# Under this share of result containers with a full-size URL, the parser no longer understands
# the page: the rest would be thumbnails stored as if they were pictures.
MIN_FULL_SHARE = 0.5

DETECT_JS = """
const text = (document.body ? document.body.innerText : '').toLowerCase();
const has = (sel) => document.querySelector(sel) !== null;
if (has('#captcha-form') || has('iframe[src*="recaptcha"]') || has('.g-recaptcha') ||
    text.includes('unusual traffic') || text.includes('not a robot')) return 'captcha';
if (has('form[action*="consent"]') || has('#consent-page') || has('.consent-form') ||
    text.includes('before you continue')) return 'consent_wall';
return null;
"""


def blocked(driver: WebDriver) -> str | None:
    """'captcha' or 'consent_wall' when the page stands between us and the results."""
    found: str | None = driver.execute_script(DETECT_JS)
    return found


def layout_changed(parsed: Parsed) -> bool:
    """Result containers were found, but too few of them gave a full-size URL."""
    return bool(parsed.sources) and parsed.with_full < MIN_FULL_SHARE * len(parsed.sources)
