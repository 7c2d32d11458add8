"""Pages that fight back: consent walls, captchas, layouts we no longer understand."""

from __future__ import annotations

from selenium.webdriver.remote.webdriver import WebDriver

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
    return driver.execute_script(DETECT_JS)
