"""Take the README's two screenshots of the running app with headless Chromium.

    python -m bench.screenshots --out docs

Starts app.py on a free port, then: Repair tab with an example photo damaged by thick
strokes, repaired, compared with OpenCV; Variations tab with four variants. Needs Debian's
chromium (see .ci/run) and Playwright from requirements-dev.txt.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench.common import free_port, start_app

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main(argv=None) -> None:
    from playwright.sync_api import sync_playwright

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs"))
    p.add_argument("--photo", default=str(ROOT / "examples" / "chelsea.png"))
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    app = start_app(port, Path(tempfile.mkdtemp()) / "app.log")
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1050})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#editor input[type=file]", state="attached", timeout=60_000)
            zoom = "(document.querySelector('#editor').innerText.match(/\\d+%/) || [''])[0]"
            page.wait_for_function(f"{zoom} !== ''", timeout=60_000)
            blank_zoom = page.evaluate(zoom)
            page.locator("#editor input[type=file]").first.set_input_files(args.photo)
            page.wait_for_function(f"{zoom} !== {blank_zoom!r}", timeout=60_000)  # the canvas zooms to fit the photo once loaded
            page.wait_for_timeout(1000)
            page.get_by_text("Damage it for me").click()
            page.get_by_role("button", name="Damage it", exact=True).click()
            page.wait_for_timeout(3000)
            page.get_by_label("Compare with OpenCV").check()
            page.locator("#repair-button").click()
            page.wait_for_function("document.querySelector('#report').innerText.includes('aeapp')", timeout=120_000, polling=1000)
            page.wait_for_timeout(6000)  # let the notices fade
            page.screenshot(path=str(out / "screenshot_repair.png"), full_page=True)

            page.get_by_role("tab", name="Variations").click()
            page.locator("input[type=file]").last.set_input_files(args.photo)
            page.wait_for_timeout(2000)
            page.get_by_role("button", name="Make variations").click()
            page.wait_for_function("document.querySelectorAll('img').length > 6", timeout=120_000, polling=1000)
            page.wait_for_timeout(3000)
            page.screenshot(path=str(out / "screenshot_variations.png"), full_page=True)
            browser.close()
    finally:
        app.terminate()
        app.wait(20)
    print(f"wrote {out}/screenshot_repair.png and screenshot_variations.png")


if __name__ == "__main__":
    main()
