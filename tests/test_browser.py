"""End to end: the real app on a free local port, driven by headless Chromium (Playwright)
and by gradio_client. Skips only when no Chromium is installed; .ci/run installs it."""

import io
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

from PIL import Image

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


def _vivid_photo(h: int, w: int) -> np.ndarray:
    """A photo with no grey pixel anywhere (fully saturated hues), so that the editor's
    checkerboard, which shows where pixels are cut out, stands apart from it."""
    import cv2

    y, x = np.mgrid[0:h, 0:w]
    hsv = np.dstack([(x * 170 // w + y * 9 // h) % 180, np.full((h, w), 255), np.full((h, w), 200)]).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32) / 255.0


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_damage_it_for_me_shows_the_damaged_photo_at_once_with_its_holes_in_place(server, tmp_path):
    """The editor draws a synthetic damage right away, its holes where the mask has them,
    nothing else painted on it, and its layer keeps its name (a non-square photo: where the
    layers used to be drawn away from the photo)."""
    import cv2
    from playwright.sync_api import sync_playwright

    from aeapp import damage

    photo = _vivid_photo(180, 300)
    save_image(photo, tmp_path / "wide.png")
    _, mask = damage.apply_damage(load_image(tmp_path / "wide.png"), "thick", np.random.default_rng(0))
    pending = "!!document.querySelector('#editor [data-testid=status-tracker] .eta-bar')"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _page_with_photo(browser, server, tmp_path / "wide.png")
        page.get_by_text("Damage it for me").click()
        page.get_by_text("Damage it", exact=True).click()  # thick strokes, seed 0
        page.wait_for_function("document.body.innerText.includes('Damaged with thick')", timeout=30_000)
        page.wait_for_timeout(2000)
        assert not page.evaluate(pending), "the editor still shows its progress overlay"
        page.mouse.move(0, 0)
        canvas_box = page.locator("#editor canvas").first.bounding_box()
        tools = page.get_by_label("Brush", exact=True).bounding_box()
        toolbar = {"x": tools["x"] - canvas_box["x"], "width": tools["width"]}
        shot = page.locator("#editor canvas").first.screenshot()
        layer_name = page.locator("#editor").inner_text()
        browser.close()

    canvas = np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(np.int32)
    canvas[:, : int(toolbar["x"] + toolbar["width"]) + 2] = 255  # the tool bar floats over the photo's left edge
    saturation = canvas.max(axis=2) - canvas.min(axis=2)
    red_paint = np.abs(canvas - np.array([255, 59, 48])).sum(axis=2) < 60  # the brush's colour; the photo is darker
    coloured = saturation > 60  # the photo's own pixels; the checkerboard and the canvas are grey
    rows, cols = np.flatnonzero(coloured.mean(axis=1) > 0.2), np.flatnonzero(coloured.mean(axis=0) > 0.2)
    top, bottom, right = rows[0], rows[-1] + 1, cols[-1] + 1
    left = right - round((bottom - top) * 300 / 180)  # the photo's left edge may lie under the tool bar
    expected = cv2.resize(mask.astype(np.uint8), (right - left, bottom - top), interpolation=cv2.INTER_NEAREST) > 0
    seen = slice(cols[0] + 3, right - 3)  # the photo's columns that are in view, less the antialiased edges
    shown_holes, expected = ~coloured[top + 3 : bottom - 3, seen], expected[3:-3, seen.start - left : seen.stop - left]
    overlap = (shown_holes & expected).sum() / (shown_holes | expected).sum()
    assert overlap > 0.85, f"holes drawn where the mask is not (IoU {overlap:.2f})"
    assert not red_paint[top:bottom, left:right].any() and not red_paint[bottom:].any()  # no stray paint
    assert "Damage" in layer_name and "Layer 1" not in layer_name


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_files_the_app_cannot_use_get_a_message_at_once_and_the_photo_stays(server, photo_path, tmp_path):
    from playwright.sync_api import sync_playwright

    (tmp_path / "notes.png").write_text("not a picture")
    Image.fromarray(np.zeros((1100, 1000, 3), np.uint8)).save(tmp_path / "huge.png")  # 1.1 MP; this server allows 1
    rng = np.random.default_rng(0)  # a JPEG under the 2 MB limit whose PNG, as the editor sends it, is over it
    Image.fromarray(rng.integers(0, 256, (990, 1000, 3), dtype=np.uint8)).save(tmp_path / "grain.jpg", quality=75)
    assert (tmp_path / "grain.jpg").stat().st_size < 2e6

    def message_after(page, action) -> tuple[str, float]:
        page.evaluate("document.getElementById('aeapp-message')?.remove()")
        start = time.time()
        action()
        page.wait_for_selector("#aeapp-message", timeout=15_000)
        return page.locator("#aeapp-message").inner_text(), time.time() - start

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _page_with_photo(browser, server, photo_path)
        editor_input = page.locator("#editor input[type=file]").first
        text, seconds = message_after(page, lambda: editor_input.set_input_files(str(tmp_path / "notes.png")))
        assert "notes.png is not an image" in text and seconds < 3
        text, seconds = message_after(page, lambda: editor_input.set_input_files(str(tmp_path / "huge.png")))
        assert "1000x1100" in text and "limit here is 1 megapixels" in text and seconds < 3
        # The photo the user had is still there: it repairs.
        page.locator("#repair-button").click()
        page.wait_for_function("document.querySelector('#report').innerText.includes('Repaired')", timeout=60_000)
        assert "240x180" in page.locator("#report").inner_text()
        page.get_by_role("tab", name="Variations").click()
        var_input = page.locator("#var-image input[type=file]").first
        text, seconds = message_after(page, lambda: var_input.set_input_files(str(tmp_path / "notes.png")))
        assert "notes.png is not an image" in text and seconds < 3
        page.get_by_role("tab", name="Repair").click()
        editor_input.set_input_files(str(tmp_path / "grain.jpg"))
        page.wait_for_timeout(3000)
        text, seconds = message_after(page, lambda: page.locator("#repair-button").click())
        assert "too large to send" in text and "2 MB" in text and seconds < 10
        browser.close()


def test_the_vary_endpoint_varies_with_its_defaults(server, photo_path):
    from gradio_client import Client, handle_file

    variants = Client(server, verbose=False).predict(handle_file(str(photo_path)), api_name="/vary")
    images = [to_uint8(load_image(v["image"])) for v in variants]
    assert len(images) == 4 and not np.array_equal(images[0], images[1])


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_the_downloaded_repair_keeps_the_photos_exif_and_colour_profile(server, tmp_path):
    from PIL import ImageCms
    from playwright.sync_api import sync_playwright

    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # camera make
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = to_uint8(make_photo(120, 160, seed=5))
    Image.fromarray(photo).save(tmp_path / "camera.jpg", quality=95, exif=exif.tobytes(), icc_profile=srgb)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _page_with_photo(browser, server, tmp_path / "camera.jpg")
        page.get_by_label("Brush", exact=True).click()
        box = page.locator("#editor canvas").first.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx - 30, cy)
        page.mouse.down()
        page.mouse.move(cx + 30, cy + 10, steps=10)
        page.mouse.up()
        page.locator("#repair-button").click()
        page.wait_for_function("document.querySelector('#report').innerText.includes('Repaired')", timeout=60_000)
        with page.expect_download(timeout=60_000) as download:
            page.get_by_text("Download repaired PNG").click()
        download.value.save_as(tmp_path / "repaired.png")
        browser.close()
    with Image.open(tmp_path / "repaired.png") as out:
        assert out.getexif().get(0x010F) == "TestCam" and out.info.get("icc_profile") == srgb
        repaired = np.asarray(out.convert("RGB"))
    original = np.asarray(Image.open(tmp_path / "camera.jpg").convert("RGB"))
    changed = np.any(repaired != original, axis=2)
    assert changed.any() and changed.mean() < 0.2  # the file's own pixels, repaired where painted
