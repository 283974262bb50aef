"""GET /docs in a real headless browser (Debian's chromium, through
selenium): the page renders the OpenAPI document's routes, and its "try it"
calls the local stack."""
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import start_stack

WAIT_SECONDS = 60  # for the page to render; each wait ends as soon as what it waits for is there


@pytest.fixture(scope="module")
def stack():
    running = start_stack({"DEMO": "0"})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    driver_path = shutil.which("chromedriver")
    assert driver_path, "chromedriver is missing: apt-get install chromium chromium-driver (.ci/run does)"
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    yield driver
    driver.quit()


def test_the_docs_page_lists_the_routes_and_tries_one(stack, browser):
    browser.get(f"{stack.url}/docs")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    wait.until(seen.presence_of_element_located((By.ID, "operations-default-health")))
    shown = {element.text.replace("\u200b", "") for element in
             browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/timelines/home", "/auth/signup", "/tweets/{tweet_id}/like", "/users/{handle}"} <= shown

    health = browser.find_element(By.ID, "operations-default-health")
    health.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(lambda _: health.find_elements(By.CSS_SELECTOR, "button.execute"))
    health.find_element(By.CSS_SELECTOR, "button.execute").click()
    answer = ".live-responses-table tr.response"
    status = wait.until(lambda _: health.find_elements(By.CSS_SELECTOR, f"{answer} .response-col_status"))
    assert status[0].text.strip().startswith("200")
    body = health.find_element(By.CSS_SELECTOR, f"{answer} .response-col_description pre")
    assert '"status": "ok"' in body.text
