"""Debian's Chromium, headless, to look at tally's pages as a browser shows them.

Started with no way out to the network (a proxy that answers nothing, no background fetches):
a page that needed anything from the internet would show it by missing its plots.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--proxy-server=127.0.0.1:9",  # nothing listens there: no page may reach the network
    "--virtual-time-budget=15000",  # lets the page's scripts finish before the capture
)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )


def dom(page: Path) -> str:
    """The page's DOM once its scripts have run."""
    return _chromium("--dump-dom", page.resolve().as_uri()).stdout


def screenshot(page: Path, png: Path, width: int = 1200, height: int = 1600) -> Path:
    _chromium(f"--screenshot={png}", f"--window-size={width},{height}", page.resolve().as_uri())
    return png


def pdf(page: Path, out: Path) -> bytes:
    """The page printed (Chromium's default paper, US Letter), without header and footer."""
    _chromium(f"--print-to-pdf={out}", "--no-pdf-header-footer", page.resolve().as_uri())
    return out.read_bytes()
