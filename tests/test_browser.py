"""End to end: the real app on a free local port, driven by headless Chromium (Playwright)
and by gradio_client. Skips only when no Chromium is installed; .ci/run installs it."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from aeapp.image_io import load_image, save_image, to_uint8

from .conftest import make_photo

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "app.log"
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
           "AEAPP_MAX_FILE_SIZE": "2mb", "AEAPP_MAX_PIXELS": "1000000"}
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited early:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"app did not start:\n{log.read_text()[-3000:]}")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def photo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "photo.png"
    save_image(make_photo(180, 240, seed=3), path)
    return path


def _fetch(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=30) as r:
        return load_image(r.read())


def _page_with_photo(browser, server: str, photo_path: Path):
    """The app in a new page, `photo_path` uploaded into the editor and drawn."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(server)
    page.wait_for_selector("#editor input[type=file]", state="attached", timeout=60_000)
    zoom = "(document.querySelector('#editor').innerText.match(/\\d+%/) || [''])[0]"
    page.wait_for_function(f"{zoom} !== ''", timeout=60_000)
    blank_zoom = page.evaluate(zoom)
    page.locator("#editor input[type=file]").first.set_input_files(str(photo_path))
    # The canvas zooms to fit the photo once it has loaded it.
    page.wait_for_function(f"{zoom} !== {blank_zoom!r}", timeout=60_000)
    return page


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_paint_a_stroke_and_repair_in_a_real_browser(server, photo_path):
    from playwright.sync_api import sync_playwright

    original = to_uint8(load_image(photo_path))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _page_with_photo(browser, server, photo_path)
        page.wait_for_timeout(500)
        page.get_by_label("Brush", exact=True).click()
        box = page.locator("#editor canvas").first.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx - 40, cy)
        page.mouse.down()
        for i in range(1, 21):
            page.mouse.move(cx - 40 + 4 * i, cy + i)
        page.mouse.up()
        page.get_by_label("Show the mask on the 'before' side").check()
        page.locator("#repair-button").click()
        page.wait_for_function("document.querySelectorAll('#result img').length >= 2", timeout=60_000)
        page.wait_for_function("document.querySelector('#report').innerText.includes('Repaired')", timeout=60_000)
        srcs = [page.locator("#result img").nth(i).get_attribute("src") for i in range(2)]
        browser.close()

    before, after = (to_uint8(_fetch(s)) for s in srcs)
    assert after.shape == original.shape  # full resolution, not the canvas size
    painted = np.any(before != original, axis=2)  # the overlay marks exactly the mask
    changed = np.any(after != original, axis=2)
    assert painted.any() and changed.any()
    assert not changed[~painted].any()  # nothing outside the stroke moved
    ys, xs = np.nonzero(painted)
    assert painted.mean() < 0.2
    # The stroke was drawn through the middle of the canvas, so it lies in the middle.
    assert 0.2 * original.shape[0] < ys.mean() < 0.8 * original.shape[0]
    assert 0.2 * original.shape[1] < xs.mean() < 0.8 * original.shape[1]


def test_gradio_client_calls_the_repair_api(server, photo_path, tmp_path):
    from gradio_client import Client, handle_file

    mask = np.zeros((180, 240), bool)
    mask[60:100, 80:160] = True
    save_image(mask, tmp_path / "mask.png")
    client = Client(server, verbose=False)
    out_path = client.predict(handle_file(str(photo_path)), handle_file(str(tmp_path / "mask.png")), 1, 0.0, 0, api_name="/repair")
    out = to_uint8(load_image(out_path))
    original = to_uint8(load_image(photo_path))
    assert out.shape == original.shape
    assert np.array_equal(out[~mask], original[~mask]) and not np.array_equal(out[mask], original[mask])
    damaged, mask_path = client.predict(handle_file(str(photo_path)), "boxes", 25, 1, api_name="/damage")
    assert load_image(mask_path)[..., 0].max() == 1.0
    variants = client.predict(handle_file(str(photo_path)), 1.0, 2, 0, api_name="/vary")
    assert len(variants) == 2


def test_the_file_route_refuses_files_outside_the_app(server):
    for path in ("/etc/passwd", str(ROOT / "app.py")):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{server}gradio_api/file={path}", timeout=10)
        assert e.value.code in (403, 404)


def test_bad_uploads_get_messages_and_the_app_keeps_serving(server, photo_path, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False)
    not_image = tmp_path / "notes.png"
    not_image.write_text("not a picture")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(photo_path.read_bytes()[:300])
    huge = tmp_path / "huge.png"
    save_image(np.zeros((1100, 1000, 3), np.float32), huge)  # 1.1 MP, over this server's 1 MP limit
    for bad, message in ((not_image, "not an image"), (truncated, "truncated|could not be read"), (huge, "limit")):
        with pytest.raises(AppError, match=message):
            client.predict(handle_file(str(bad)), None, 1, 0.0, 0, api_name="/repair")
    out = client.predict(handle_file(str(photo_path)), None, 1, 0.0, 0, api_name="/repair")
    assert load_image(out).shape == (180, 240, 3)


def test_uploads_over_the_size_limit_are_refused(server, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG" + os.urandom(3 * 2**20))  # 3 MB; this server allows 2 MB
    boundary = "aeappboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + big.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{server}gradio_api/upload", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 413


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_a_mask_file_round_trips_through_the_editor_and_a_repair(server, photo_path, tmp_path):
    from playwright.sync_api import sync_playwright

    mask = np.zeros((180, 240), bool)
    mask[50:90, 60:150] = True
    mask[120:130, 20:200] = True
    save_image(mask, tmp_path / "mask.png")
    original = to_uint8(load_image(photo_path))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _page_with_photo(browser, server, photo_path)
        page.get_by_text("Mask file: upload one, or save the painted one").click()
        with page.expect_response(lambda r: "/gradio_api/queue/data" in r.url, timeout=60_000):
            page.locator("#mask-upload input[type=file]").set_input_files(str(tmp_path / "mask.png"))
        page.wait_for_timeout(3000)  # the editor draws the mask as paint
        page.locator("#repair-button").click()
        page.wait_for_function("document.querySelector('#report').innerText.includes('Repaired')", timeout=60_000)
        after_src = page.locator("#result img").nth(1).get_attribute("src")
        with page.expect_download(timeout=60_000) as download:
            page.locator("#mask-download").click()
        download.value.save_as(tmp_path / "downloaded.png")
        browser.close()
    assert np.array_equal(load_image(tmp_path / "downloaded.png")[..., 0] > 0.5, mask)  # the same mask came back
    after = to_uint8(_fetch(after_src))
    changed = np.any(after != original, axis=2)
    assert changed.any() and not changed[~mask].any()  # the repair filled exactly the uploaded mask
