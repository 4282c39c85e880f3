"""unembed serve in a real browser: Debian's headless Chromium, driven by Playwright, against `unembed serve` in its own
process. Set UNEMBED_SCREENSHOTS=FOLDER to keep a screenshot of each page after its flow (docs/images does)."""

import os
import shutil
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from unembed.minibind import world
from unembed.serve.client import local_server

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = os.environ.get("UNEMBED_SCREENSHOTS")


@pytest.fixture(scope="module")
def server():
    with local_server("--space", "minibind", "--generator", "llama.cpp") as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "the browser tests drive Debian's chromium: install it (apt-get install chromium), as .ci/run does"
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(120_000)
    yield opened
    context.close()


def screenshot(page, name):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"serve-{name}.png"), full_page=True)


def red_circle(path):
    image = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(image).ellipse((16, 16, 48, 48), fill=(220, 20, 20))
    image.save(path)
    return path


UNNAMED = """() => [...document.querySelectorAll("input, select, textarea, button")]
    .filter((control) => control.tagName === "BUTTON" ? !control.textContent.trim() : control.labels.length === 0)
    .map((control) => control.outerHTML)"""


@pytest.mark.parametrize("path", ["/", "/arith", "/explain"])
def test_every_control_has_a_name(server, page, path):
    page.goto(server.url + path)
    page.get_by_role("option").first.wait_for(state="attached")  # the choices are filled in
    assert page.evaluate(UNNAMED) == []


def test_a_red_circle_is_read_as_red_and_a_circle_step_by_step(server, page, tmp_path):
    page.goto(server.url)
    page.get_by_label("Image, sound or .npy vector").set_input_files(red_circle(tmp_path / "red-circle.png"))
    page.get_by_role("button", name="Invert").click()
    page.get_by_role("link", name="Download the result (JSON)").wait_for()
    answer = page.locator("#answer-text").inner_text()
    assert "red" in answer and "circle" in answer
    assert page.locator("#step-table tbody tr").count() >= 1
    chart = page.get_by_role("img", name="The best cosine after each step")
    assert chart.locator("polyline").count() == 1 and chart.locator("circle").count() >= 1
    screenshot(page, "invert")


def test_the_invert_page_works_from_the_keyboard(server, page):
    page.goto(server.url)
    page.get_by_label("Or a text").focus()
    page.keyboard.type("a small blue square on the left")
    page.keyboard.press("Enter")  # submits the form, as the Invert button does
    page.get_by_role("link", name="Download the result (JSON)").wait_for()
    assert "blue" in page.locator("#answer-text").inner_text()


def test_picture_plus_sound_is_said_and_drawn_in_both_modes(server, page, tmp_path):
    rng = np.random.default_rng(3)
    picture, sound = tmp_path / "scene.png", tmp_path / "rain.wav"
    Image.fromarray(world.render_image(world.all_image_scenes("one-object")[5], rng)).save(picture)
    import soundfile

    samples = world.render_audio(world.all_audio_scenes("one-event")[0], rng)
    soundfile.write(sound, samples, world.SAMPLE_RATE)
    page.goto(f"{server.url}/arith")
    page.get_by_role("group", name="Term 1").get_by_label("Picture, sound or .npy vector").set_input_files(picture)
    page.get_by_role("group", name="Term 2").get_by_label("Picture, sound or .npy vector").set_input_files(sound)
    page.get_by_role("button", name="Combine").click()
    page.get_by_text("Done in").wait_for()
    assert page.locator("img.drawing").count() == 2, page.locator("#modes").inner_text()
    for mode in ("Embedding mode", "Text mode"):
        assert page.get_by_role("heading", name=mode).is_visible()
    screenshot(page, "arith")


def test_a_vector_of_the_wrong_width_gets_a_message_in_the_page(server, page, tmp_path):
    np.save(tmp_path / "wide.npy", np.ones(10, np.float32))
    page.goto(server.url)
    page.get_by_label("Image, sound or .npy vector").set_input_files(tmp_path / "wide.npy")
    page.get_by_role("button", name="Invert").click()
    alert = page.get_by_role("alert")
    alert.get_by_text("dimension 10").wait_for()
    assert "384" in alert.inner_text() and "Traceback" not in page.content()


def test_explain_shows_the_loops_words_beside_the_banks(server, page, tmp_path):
    page.goto(f"{server.url}/explain")
    page.get_by_label("Texts, one per line").first.fill("a large red circle\na small red square")
    page.get_by_label("Texts, one per line").nth(1).fill("a large blue circle\na small blue square")
    page.get_by_role("button", name="Explain").click()
    page.get_by_text("Done in").wait_for()
    assert "red" in page.locator("#answer-text").inner_text()
    assert page.locator("#explanation tbody tr").count() >= 1
    screenshot(page, "explain")


def test_a_closed_tab_cancels_its_job(server, page):
    """A slow job (SmolLM2 proposing for 30 steps) is stopped at its next step once its tab is closed."""
    page.goto(server.url)
    page.get_by_label("Or a text").fill("a small blue square on the left")
    page.get_by_label("Generator").select_option("llama.cpp")
    page.get_by_role("spinbutton", name="Steps").fill("30")
    page.get_by_role("button", name="Invert").click()
    page.locator("#step-table tbody tr").first.wait_for()  # running: the bank's step is on the page
    page.close()
    deadline = time.monotonic() + 120
    while "cancelled after" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert "cancelled after" in server.log.read_text()
    # and the worker is free again: a new job runs at once
    answer = httpx.post(f"{server.url}/api/invert", data={"text": "a red circle"}, timeout=120)
    assert '"type": "result"' in answer.text


def test_serving_beyond_this_machine_warns():
    with local_server("--space", "minibind", host="0.0.0.0") as running:
        assert "reachable from the network" in running.log.read_text()
