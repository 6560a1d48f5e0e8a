"""The A/B comparison page (server/web/), served by a real roiserve-server on
loopback and used in a real browser (headless chromium through Selenium): what
a person would check after uploading an image and comparing heads, against
what the gRPC Compare answers for the same image and options; errors as
messages; the offline report view; the static files' HTTP behaviour."""
import http.client
import subprocess

import pytest

from browser_support import (DESKTOP, PHONE, console_errors, save_full_page, screenshot_dir, start_browser,
                             wait_for)
from service_support import (BOX_STAGES, CALL_TIMEOUT_S, MASK_STAGES, SHARED_STAGES, SHIPPED_MODEL, START_TIMEOUT_S,
                             compare_request, detection_records, serve, server_binary, shapes_png, stages)
from tool_support import run_tool

from selenium.webdriver.common.by import By  # noqa: E402  (after browser_support's importorskip)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

pycocotools_mask = pytest.importorskip("pycocotools.mask", reason="pycocotools is not installed")

TOKEN = "web-page-token"
STATIC_FILES = {"/": "text/html; charset=utf-8", "/app.js": "text/javascript; charset=utf-8",
                "/style.css": "text/css; charset=utf-8", "/samples/shapes-v1-000001.jpg": "image/jpeg"}
# The options the page is set to: three variants (two heads and one head's
# other mask pooler) and a threshold other than the model's default.
VARIANTS = [("roi_align", "roi_align"), ("ps_roi_pool", "roi_align"), ("roi_align", "roi_pool")]
SCORE_THRESHOLD = 0.3
IMAGE = 2  # shapes-v1 validation image 3: five shapes


@pytest.fixture(scope="module")
def ab_report(tmp_path_factory):
    """A real roiserve-eval report: two heads on two shapes-v1 images."""
    directory = tmp_path_factory.mktemp("ab-report")
    run_tool("roiserve-eval", "--model", SHIPPED_MODEL, "--shapes-count", 2, "--heads", "roi_align", "roi_pool",
             "--no-masks", "--threads", 1, "--output", directory)
    return directory


@pytest.fixture(scope="module")
def server(ab_report):
    yield from serve("--max-batch-size", "1", "--ab-report", ab_report)


# The comparison's page stays as compared for the tests that read it; the
# other tests load pages of their own in a second browser.
@pytest.fixture(scope="module")
def compare_browser():
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    return screenshot_dir(tmp_path_factory)


def page_url(server):
    return f"http://{server.http_address}/"


def http_get(server, path, headers=None):
    connection = http.client.HTTPConnection(server.http_address, timeout=CALL_TIMEOUT_S)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def open_page(browser, server):
    browser.get(page_url(server))
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "the model list")


def set_variants(browser, variants):
    while len(browser.find_elements(By.CSS_SELECTOR, "#variants .variant")) < len(variants):
        browser.find_element(By.ID, "add-variant").click()
    for index, (head, pooler) in enumerate(variants):
        Select(browser.find_element(By.ID, f"head-{index}")).select_by_value(head)
        Select(browser.find_element(By.ID, f"pooler-{index}")).select_by_value(pooler)


def compare_with_enter(browser):
    """Submits as a keyboard user does: Enter in the score threshold field."""
    field = browser.find_element(By.ID, "score-threshold")
    field.clear()
    field.send_keys(str(SCORE_THRESHOLD), Keys.ENTER)


def wait_for_panels(browser, count):
    return wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#panels .panel")) == count
                    and not d.find_element(By.ID, "compare").get_attribute("disabled")
                    and d.find_elements(By.CSS_SELECTOR, "#panels .panel"), f"{count} result panels")


def wait_for_error(browser):
    return wait_for(browser, lambda d: d.find_element(By.ID, "error").is_displayed()
                    and d.find_element(By.ID, "error").text, "an error message")


def grpc_compare(server, image_bytes, variants):
    return server.stub().Compare(compare_request(image_bytes, variants, score_threshold=SCORE_THRESHOLD),
                                 timeout=CALL_TIMEOUT_S)


def variant_label(head, pooler):
    return f"{head} + mask {pooler}"


# ----- the comparison -------------------------------------------------------------------

@pytest.fixture(scope="module")
def compared(server, compare_browser, screenshots):
    """The page after comparing VARIANTS on a shapes-v1 image with several
    shapes (a PNG file chosen in the file field), the gRPC Compare of the
    same, and the console."""
    open_page(compare_browser, server)
    compare_browser.find_element(By.ID, "image-file").send_keys(str(shapes_png(IMAGE)))
    set_variants(compare_browser, VARIANTS)
    compare_with_enter(compare_browser)
    wait_for_panels(compare_browser, len(VARIANTS))
    console = console_errors(compare_browser)
    save_full_page(compare_browser, screenshots / "compare-1280.png", DESKTOP[0])
    save_full_page(compare_browser, screenshots / "compare-phone.png", PHONE[0])
    return compare_browser, grpc_compare(server, shapes_png(IMAGE).read_bytes(), VARIANTS), console


def test_one_panel_per_variant_with_the_detections_grpc_compare_returns(compared):
    browser, expected, _ = compared
    panels = browser.find_elements(By.CSS_SELECTOR, "#panels .panel")
    assert [p.find_element(By.TAG_NAME, "h3").text for p in panels] == [variant_label(*v) for v in VARIANTS]
    for panel, result in zip(panels, expected.results):
        assert panel.find_element(By.CSS_SELECTOR, ".count").text == f"{len(result.detections)} detections"
        listed = [item.text.split("\n") for item in panel.find_elements(By.CSS_SELECTOR, ".detections li")]
        assert listed == [[d.class_name, f"{d.score:.3f}"] for d in result.detections]
        assert result.proposals_fingerprint in panel.find_element(By.TAG_NAME, "figcaption").text
        assert all(d.score > SCORE_THRESHOLD for d in result.detections)


def test_latency_chart_shows_the_shared_stages_once_then_each_variants_own(compared):
    browser, expected, _ = compared
    chart = browser.find_element(By.ID, "latency-chart")
    rows = chart.find_elements(By.CSS_SELECTOR, "g.row")
    assert [row.get_attribute("data-row") for row in rows] == ["shared"] + [f"variant-{i}" for i in range(len(VARIANTS))]

    def row_stages(row):
        return [rect.get_attribute("data-stage") for rect in row.find_elements(By.TAG_NAME, "rect")]

    assert row_stages(rows[0]) == SHARED_STAGES == stages(expected.shared_latency)[:-1]
    for row, result in zip(rows[1:], expected.results):
        assert row_stages(row) == BOX_STAGES + MASK_STAGES + ["encode"] == stages(result.latency)
        assert all(float(rect.get_attribute("data-ms")) >= 0 for rect in row.find_elements(By.TAG_NAME, "rect"))


def test_agreement_table_holds_every_pair_with_the_servers_numbers(compared):
    browser, expected, _ = compared
    rows = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in browser.find_elements(By.CSS_SELECTOR, "#agreement tbody tr")]
    names = [variant_label(*v) for v in VARIANTS]
    assert rows == [[names[a.a], names[a.b], str(a.matched), f"{a.mean_iou:.3f}",
                     f"{'+' if a.mean_score_delta >= 0 else ''}{a.mean_score_delta:.3f}", str(a.only_a), str(a.only_b)]
                    for a in expected.agreements]
    assert len(rows) == len(VARIANTS) * (len(VARIANTS) - 1) // 2
    assert "from the server" in browser.find_element(By.ID, "agreement-caption").text


def test_the_pages_own_pairing_agrees_with_the_servers(compared):
    """Hover highlights come from the page's pairing: it must pair as the server does."""
    browser, expected, _ = compared
    detections = [detection_records(result.detections) for result in expected.results]
    for agreement in expected.agreements:
        mine = browser.execute_script("return window.roiserve.pairDetections(arguments[0], arguments[1])",
                                      detections[agreement.a], detections[agreement.b])
        assert (mine["matched"], mine["only_a"], mine["only_b"]) == (agreement.matched, agreement.only_a, agreement.only_b)
        assert mine["mean_iou"] == pytest.approx(agreement.mean_iou, abs=1e-9)
        assert mine["mean_score_delta"] == pytest.approx(agreement.mean_score_delta, abs=1e-9)


def test_the_pages_rle_decoder_reads_masks_as_pycocotools(compared):
    browser, expected, _ = compared
    for detection in expected.results[0].detections[:3]:
        rle = detection.mask.coco_rle
        decoded = browser.execute_script("return Array.from(window.roiserve.decodeRle(arguments[0], arguments[1], arguments[2]))",
                                         rle.counts, rle.height, rle.width)
        reference = pycocotools_mask.decode({"size": [rle.height, rle.width], "counts": rle.counts.encode()})
        assert decoded == reference.reshape(-1).tolist()


def test_hovering_a_detection_highlights_its_match_in_the_other_panels(compared):
    browser, expected, _ = compared
    detections = [detection_records(result.detections) for result in expected.results]
    first = browser.find_element(By.CSS_SELECTOR, ".panel[data-variant='0'] .detections li[data-index='0']")
    ActionChains(browser).move_to_element(first).perform()
    for other in range(1, len(VARIANTS)):
        pairing = browser.execute_script("return window.roiserve.pairDetections(arguments[0], arguments[1])",
                                         detections[0], detections[other])
        match = next((pair["b"] for pair in pairing["pairs"] if pair["a"] == 0), None)
        highlighted = browser.find_elements(By.CSS_SELECTOR, f".panel[data-variant='{other}'] .detections li.highlight")
        note = browser.find_element(By.CSS_SELECTOR, f".panel[data-variant='{other}'] .match-note").text
        if match is None:
            assert not highlighted and note.startswith("no match")
        else:
            assert [item.get_attribute("data-index") for item in highlighted] == [str(match)]
            assert note.startswith(f"match: {detections[other][match]['category']}")
    ActionChains(browser).move_by_offset(0, -400).perform()


def test_panels_sit_side_by_side_at_1280_and_stack_at_a_phones_width(compared):
    browser, _, _ = compared

    def layout():
        panels = browser.find_elements(By.CSS_SELECTOR, "#panels .panel")
        width, page_width = browser.execute_script(
            "return [window.innerWidth, document.documentElement.scrollWidth]")
        return {round(p.rect["y"]) for p in panels}, {round(p.rect["x"]) for p in panels}, page_width <= width

    rows, _, fits = layout()
    assert len(rows) == 1 and fits
    browser.set_window_size(*PHONE)
    try:
        _, columns, fits = layout()
        assert len(columns) == 1 and fits, "one column, nothing wider than the screen"
    finally:
        browser.set_window_size(*DESKTOP)


def test_no_errors_in_the_browser_console(compared):
    _, _, console = compared
    assert console == []


# ----- errors as messages ---------------------------------------------------------------------

def test_a_dropped_file_is_the_image_compared(server, browser):
    open_page(browser, server)
    browser.execute_script("""const [name, bytes] = arguments;
        const transfer = new DataTransfer();
        transfer.items.add(new File([new Uint8Array(bytes)], name, { type: 'image/png' }));
        document.getElementById('drop-zone').dispatchEvent(
            new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));""",
                           shapes_png(IMAGE).name, list(shapes_png(IMAGE).read_bytes()))
    assert shapes_png(IMAGE).name in browser.find_element(By.ID, "image-name").text
    browser.find_element(By.ID, "compare").click()
    assert len(wait_for_panels(browser, 2)) == 2


def test_a_garbage_file_shows_the_servers_error(server, browser, tmp_path):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not an image at all" * 10)
    open_page(browser, server)
    console_errors(browser)
    browser.find_element(By.ID, "image-file").send_keys(str(garbage))
    browser.find_element(By.ID, "compare").click()
    message = wait_for_error(browser)
    assert "The server answered 400" in message
    assert "image" in message.lower()
    assert not browser.find_element(By.ID, "results").is_displayed()
    # The refused request is the console's only complaint.
    assert all("400" in entry for entry in console_errors(browser))


def test_an_unknown_head_shows_the_servers_error(server, browser):
    open_page(browser, server)
    browser.find_element(By.CSS_SELECTOR, ".sample").click()
    wait_for(browser, lambda d: "shapes-v1-000001" in d.find_element(By.ID, "image-name").text, "the sample")
    browser.execute_script("""const select = document.getElementById('head-1');
        select.append(new Option('no_such_head', 'no_such_head')); select.value = 'no_such_head';""")
    browser.find_element(By.ID, "compare").click()
    assert "no_such_head" in wait_for_error(browser)


# ----- the offline report view ------------------------------------------------------------------

def test_the_report_view_shows_the_roiserve_eval_report(server, browser, ab_report):
    open_page(browser, server)
    tab = browser.find_element(By.ID, "tab-report")
    tab.click()
    assert tab.get_attribute("aria-selected") == "true"
    frame = wait_for(browser, lambda d: d.find_element(By.ID, "report-frame"), "the report frame")
    browser.switch_to.frame(frame)
    try:
        heading = wait_for(browser, lambda d: d.find_elements(By.TAG_NAME, "h1"), "the report's heading")[0].text
        assert heading.startswith("Head comparison: shapes-v1")
        image = browser.find_element(By.CSS_SELECTOR, "img[src='pr_bbox.png']")
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 0
    finally:
        browser.switch_to.default_content()
    status, headers, body = http_get(server, "/report/")
    assert status == 200 and body == (ab_report / "report.html").read_bytes()
    assert http_get(server, "/report/pr_bbox.png")[2] == (ab_report / "pr_bbox.png").read_bytes()
    assert http_get(server, "/report/../server.log")[0] in (400, 404)
    status, headers, _ = http_get(server, "/report")
    assert (status, headers["Location"]) == (301, "/report/"), "report.html links its plots relatively"


def test_a_missing_report_stops_the_server_at_start_naming_it(tmp_path):
    completed = subprocess.run([str(server_binary()), "--model", SHIPPED_MODEL, "--listen", "127.0.0.1:0",
                                "--http-listen", "127.0.0.1:0", "--ab-report", str(tmp_path / "nowhere")],
                               capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert f"no A/B report at '{tmp_path / 'nowhere'}'" in output and "report.html" in output


# ----- the static files over HTTP ----------------------------------------------------------------

@pytest.mark.parametrize("path", STATIC_FILES)
def test_static_files_have_their_type_and_revalidate_by_etag(server, path):
    status, headers, body = http_get(server, path)
    assert status == 200 and body
    assert headers["Content-Type"] == STATIC_FILES[path]
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, _, body = http_get(server, path, {"If-None-Match": headers["ETag"]})
    assert (status, body) == (304, b"")


def test_an_unknown_static_path_is_not_found(server):
    assert http_get(server, "/no-such-file.js")[0] == 404


# ----- a server with tokens ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    tokens.write_text(f"{TOKEN}\n")
    yield from serve("--max-batch-size", "1", "--auth-token-file", tokens)


def test_with_auth_the_page_loads_freely_and_asks_for_the_token(auth_server, browser):
    for path in STATIC_FILES:
        assert http_get(auth_server, path)[0] == 200, path
    assert http_get(auth_server, "/v1/models")[0] == 401
    status, _, body = http_get(auth_server, "/report/")
    assert status == 404 and b"--ab-report DIR" in body, "a server given no report says how to give one"
    browser.get(page_url(auth_server))
    assert "token" in wait_for_error(browser).lower()
    token = browser.find_element(By.ID, "token")
    token.send_keys(TOKEN, Keys.TAB)  # the change event lists the models with it
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "the model list with the token")
    browser.find_element(By.CSS_SELECTOR, ".sample").click()
    wait_for(browser, lambda d: "shapes-v1" in d.find_element(By.ID, "image-name").text, "the sample")
    browser.find_element(By.ID, "compare").click()
    wait_for_panels(browser, 2)
    assert not browser.find_element(By.ID, "error").is_displayed()
