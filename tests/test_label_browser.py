"""`curate label` in a real browser: Debian's headless Chromium driven by Selenium logs in with
a link, answers with the keyboard and the mouse, and no script from the data ever runs.

Skipped with a reason when chromium or chromedriver is not installed (`make install` installs
them where it can: Debian's packages, as root). With CURATE_DOC_SCREENSHOTS=1 the screenshots
are written to docs/ as well (the README shows them)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from curate.cli import cli
from tests.conftest import REPO
from tests.label_server import LabelServer

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not installed"
)
HOSTILE = [
    {
        "prompt": "<script>window.__pwned = 1</script> Which **snack** is healthier? 어떤 간식이 더 건강한가요?",
        "chosen": "An apple:\n\n```python\nprint('fibre')\n```\n\n사과가 더 건강합니다.",
        "rejected": '<img src=x onerror="window.__pwned = 2"> Crisps. [details](javascript:window.__pwned=3)',
    },
    {"prompt": "Say hi.", "chosen": "Hi there!", "rejected": "Go away."},
    {"prompt": "What is 2 + 2?", "chosen": "4", "rejected": "5"},
    {"prompt": "Name a planet.", "chosen": "Mars.", "rejected": "The Moon."},
]


@pytest.fixture
def browser():
    pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not try to download a driver
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def link(project: Path, name: str, url: str, admin: bool = False) -> str:
    result = CliRunner().invoke(
        cli, ["label", "add", str(project), name, "--url", url, *(["--admin"] if admin else [])]
    )
    assert result.exit_code == 0, result.output
    return re.search(r"(http://\S+/login\?token=\S+)", result.output).group(1)


def shown_keys(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [node.get_attribute("data-key") for node in driver.find_elements(By.CSS_SELECTOR, "#candidates article")]


def wait_for_item(driver, previous: str | None) -> str:
    """Wait until an item other than `previous` (its first message's text) is on the page; its text."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        turns = d.find_elements(By.CSS_SELECTOR, "#conversation .turn .content")
        text = turns[0].text if turns else None
        if text is None or text == previous or not d.find_elements(By.CSS_SELECTOR, "#candidates article"):
            return False
        return text

    return WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,)).until(ready)


def test_a_labeller_answers_with_keys_and_mouse_and_no_script_runs(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in HOSTILE) + "\n", encoding="utf-8")
    project = tmp_path / "project"
    made = CliRunner().invoke(cli, ["label", "init", str(data), "-o", str(project), "--task", "compare"])
    assert made.exit_code == 0, made.output
    with LabelServer(project) as server:
        browser.get(link(project, "ann", server.url))
        text = wait_for_item(browser, None)
        assert "<script>" in text and "어떤 간식이" in text  # the markup shown as text, Korean intact
        page = browser.find_element(By.ID, "candidates").text
        assert '<img src=x onerror="window.__pwned = 2">' in page and "사과가 더 건강합니다." in page
        assert browser.find_elements(By.CSS_SELECTOR, "#candidates pre code")  # the code block is formatted
        assert not browser.find_elements(By.CSS_SELECTOR, "#candidates img, #conversation script")
        assert all(
            not (a.get_attribute("href") or "").startswith("javascript")
            for a in browser.find_elements(By.TAG_NAME, "a")
        )
        assert browser.execute_script("return window.__pwned") is None
        shots = [tmp_path / "label-page.png"]
        browser.save_screenshot(str(shots[0]))
        expected = {}
        keys = shown_keys(browser)
        browser.find_element(By.TAG_NAME, "body").send_keys("1")  # keyboard: the answer shown first
        expected[1] = keys[0]
        text = wait_for_item(browser, text)
        browser.find_element(By.TAG_NAME, "body").send_keys("t")  # keyboard: a tie
        expected[2] = "tie"
        text = wait_for_item(browser, text)
        keys = shown_keys(browser)
        browser.find_element(By.ID, "choose-2").click()  # mouse: the answer shown second
        expected[3] = keys[1]
        text = wait_for_item(browser, text)
        browser.find_element(By.TAG_NAME, "body").send_keys("s")  # skip the last one
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.NULL)
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 15).until(lambda d: "All done" in d.find_element(By.ID, "conversation").text)
        assert browser.execute_script("return window.__pwned") is None
        browser.get(link(project, "lead", server.url, admin=True))
        WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#people tbody tr"))
        shots.append(tmp_path / "label-admin.png")
        browser.save_screenshot(str(shots[1]))
    exported = CliRunner().invoke(cli, ["label", "export", str(project), "-o", str(tmp_path / "out")])
    assert exported.exit_code == 0, exported.output
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["label"]["answers"] == 3
    answers = {}
    for path in sorted((tmp_path / "out").glob("*/*.parquet")):
        for row in pq.read_table(path).to_pylist():
            answers[row["id"]] = json.loads(row["meta"])["answers"]
    from curate.label.store import Project

    store = Project(project)
    item_of = {item["key"]: item["id"] for item in store.items()}
    store.close()
    got = {item_of[key]: votes["ann"]["choice"] for key, votes in answers.items() if "ann" in votes}
    assert got == expected  # exactly the answers given, no more
    if os.environ.get("CURATE_DOC_SCREENSHOTS"):
        for shot in shots:
            shutil.copyfile(shot, REPO / "docs" / shot.name)


@pytest.mark.parametrize("task", ["rank", "rate", "write"])
def test_rank_rate_and_write_in_the_page(tmp_path, browser, task):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    data = tmp_path / "pairs.jsonl"
    rows = [{"prompt": "Name a colour.", "chosen": "Blue, the colour of the sky.", "rejected": "Red."}]
    data.write_text("\n".join(json.dumps(row) for row in rows) + "\n", encoding="utf-8")
    project = tmp_path / "project"
    assert CliRunner().invoke(cli, ["label", "init", str(data), "-o", str(project), "--task", task]).exit_code == 0
    with LabelServer(project) as server:
        browser.get(link(project, "ann", server.url))
        wait_for_item(browser, None) if task != "write" else WebDriverWait(browser, 15).until(
            lambda d: d.find_elements(By.ID, "answer-text")
        )
        if task == "rank":
            order = shown_keys(browser)
            browser.find_elements(By.CSS_SELECTOR, "#candidates article button.move")[1].click()  # first one down
            expected = {"order": [order[1], order[0]]}
            browser.find_element(By.ID, "submit").click()
        elif task == "rate":
            order = shown_keys(browser)
            for index, score in enumerate((5, 2)):  # each click draws the answers again: find them anew
                article = browser.find_elements(By.CSS_SELECTOR, "#candidates article")[index]
                article.find_elements(By.CSS_SELECTOR, ".scale button")[score - 1].click()
            expected = {"scores": {order[0]: 5, order[1]: 2}}
            browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ENTER)
        else:
            box = browser.find_element(By.ID, "answer-text")
            box.clear()
            box.send_keys("Green, like grass. 초록색입니다.")
            box.send_keys(Keys.CONTROL, Keys.ENTER)
            expected = {"text": "Green, like grass. 초록색입니다."}
        WebDriverWait(browser, 15).until(lambda d: "All done" in d.find_element(By.ID, "conversation").text)
    from curate.label.store import Project

    store = Project(project)
    (answer,) = store.answers()
    store.close()
    assert {key: value for key, value in answer["answer"].items() if key != "shown_order"} == expected
