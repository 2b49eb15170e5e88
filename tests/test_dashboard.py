"""`sanas dashboard`: unit tests of its table logic and guards, and a real headless
Chromium (Selenium + chromedriver) on the dashboard subprocess, talking to a real
sanas-server while a background trainer runs the study."""

from __future__ import annotations

import datetime
import filecmp
import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CHECKOUT_ENV, ROOT, ServerProcess, wait_until

from sanas import Client
from sanas.dashboard import DashboardConfigError, read_dashboard_token
from sanas.dashboard.index import QueryError, TrialIndex, parse_query
from sanas.study_config import median_stopping, study_config
from sanas.v1 import sanas_pb2 as pb

DASH = ROOT / "python_client" / "sanas" / "dashboard"
ARTIFACTS = ROOT / "test-artifacts"


# -- unit: the index -----------------------------------------------------------------------
def trial(i: int, state: int, reward: float = 0.0, client: str = "a", t: float = 0) -> pb.Trial:
    msg = pb.Trial(trial_id=i, state=state, reward=reward, client_id=client, temperature=1.0)
    msg.create_time.FromSeconds(int(1_000 + (t or i)))
    return msg


@pytest.fixture
def index() -> TrialIndex:
    idx = TrialIndex()
    S, A, X = pb.TRIAL_STATE_SUCCEEDED, pb.TRIAL_STATE_ACTIVE, pb.TRIAL_STATE_STOPPED
    idx.load(
        [trial(i, S, reward=i / 10, client="a" if i % 2 else "b") for i in range(20)]
        + [trial(20, A, client="c"), trial(21, X, reward=0.05, client="a")]
    )
    return idx


def test_pagination_and_sort(index: TrialIndex) -> None:
    page = index.query(parse_query({"limit": "5", "offset": "5"}))
    assert page.total == 22
    assert [r.trial_id for r in page.rows] == [5, 6, 7, 8, 9]
    page = index.query(parse_query({"sort": "reward", "desc": "1", "limit": "3"}))
    assert [r.trial_id for r in page.rows] == [19, 18, 17]
    # No reward (the active trial, and the stopped one, a rejected move whose last value
    # is no reward) sorts last when descending.
    page = index.query(parse_query({"sort": "reward", "desc": "1", "offset": "20"}))
    assert [r.trial_id for r in page.rows] == [20, 21]
    page = index.query(parse_query({"sort": "trainer", "limit": "50"}))
    assert [r.client_id for r in page.rows][-1] == "c"
    assert index.query(parse_query({"offset": "100"})).rows == []


def test_filters(index: TrialIndex) -> None:
    assert index.query(parse_query({"state": "stopped"})).total == 1
    assert index.query(parse_query({"state": "stopped,active"})).total == 2
    assert index.query(parse_query({"trainer": "C"})).total == 1
    page = index.query(parse_query({"reward_min": "0.5", "reward_max": "0.7"}))
    assert [r.trial_id for r in page.rows] == [5, 6, 7]
    assert index.query(parse_query({"time_min": "1010", "time_max": "1012"})).total == 3


def test_index_follows_events(index: TrialIndex) -> None:
    done = trial(20, pb.TRIAL_STATE_SUCCEEDED, reward=3.0, client="c")
    index.update(done)
    # A late event from before ListTrials (the trial still active) changes nothing.
    index.update(trial(20, pb.TRIAL_STATE_ACTIVE, client="c"))
    assert index.get(20).state == "succeeded"
    index.add_measurement(trial(22, pb.TRIAL_STATE_ACTIVE), 1, 0.5)
    assert index.get(22).curve.points() == [[1, 0.5]]
    series = index.series()
    assert series["best"][-1] == 3.0 and series["finished"] == 22


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "100000"}, "between 1 and 500"),
        ({"limit": "x"}, "not an integer"),
        ({"sort": "os.system"}, "sort="),
        ({"state": "weird"}, "state="),
        ({"reward_min": "nan"}, "finite"),
        ({"trainer": "x" * 201}, "longer than 200"),
        ({"offset": "-1"}, "between"),
    ],
)
def test_bad_queries(params: dict[str, str], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(params)


def test_token_required_off_loopback(tmp_path: Path) -> None:
    assert read_dashboard_token("127.0.0.1", None) is None
    assert read_dashboard_token("::1", None) is None
    with pytest.raises(DashboardConfigError, match="without a token"):
        read_dashboard_token("0.0.0.0", None)
    short = tmp_path / "short"
    short.write_text("abc\n")
    with pytest.raises(DashboardConfigError, match="16"):
        read_dashboard_token("0.0.0.0", str(short))
    good = tmp_path / "good"
    good.write_text("s3cret-s3cret-s3cret\n")
    assert read_dashboard_token("0.0.0.0", str(good)) == "s3cret-s3cret-s3cret"


def test_cli_refuses_public_host_without_token() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sanas.cli", "dashboard", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env=CHECKOUT_ENV,
    )
    assert done.returncode == 2
    assert "without a token" in done.stderr and "--dashboard-token-file" in done.stderr


def test_vendored_uplot_matches_npm_package(tmp_path: Path) -> None:
    """The vendored files are the npm package's (package-lock.json pins it)."""
    modules = DASH / "node_modules"
    if not (modules / "uplot").is_dir():
        if shutil.which("npm") is None:
            pytest.skip("npm is not installed")
        for name in ("package.json", "package-lock.json"):
            shutil.copy(DASH / name, tmp_path / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=tmp_path,
            check=True,
            timeout=120,
        )
        modules = tmp_path / "node_modules"
    lock = json.loads((DASH / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/uplot"]["version"]
    assert json.loads((modules / "uplot" / "package.json").read_text())["version"] == pinned
    vendor = DASH / "static" / "vendor"
    for ours, theirs in [
        ("uPlot.iife.min.js", "dist/uPlot.iife.min.js"),
        ("uPlot.min.css", "dist/uPlot.min.css"),
        ("LICENSE", "LICENSE"),
    ]:
        assert filecmp.cmp(vendor / ours, modules / "uplot" / theirs, shallow=False), (
            f"{ours} drifted from uplot {pinned}: run `make dashboard-vendor`"
        )


# -- the dashboard subprocess ------------------------------------------------------------
class Dashboard:
    def __init__(self, controller: str, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sanas.cli",
                "dashboard",
                "--address",
                controller,
                "--port",
                "0",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=CHECKOUT_ENV,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "sanas dashboard on" not in line:
            self.proc.kill()
            raise RuntimeError(f"dashboard did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split()[3].rstrip("/")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def post(self, path: str, body: object, headers: dict[str, str]) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "ckpt")
    yield srv
    srv.close()


def make_study(address: str, study_id: str, steps: int, done: int, **kwargs: object) -> None:
    with Client(address, client_id="setup") as c:
        c.wait_ready()
        config = study_config([("MobileNetV2Space", {})], search_steps=steps, **kwargs)
        c.create_study(study_id, config)
        for i in range(done):
            t = c.suggest_trial(study_id)
            c.complete_trial(study_id, t.trial_id, 0.5 + 0.01 * i)


def test_delete_needs_allow_delete_and_confirmation(controller: ServerProcess) -> None:
    make_study(controller.address, "doomed", 10, 1)
    ro = Dashboard(controller.address)
    try:
        status, text = ro.post(
            "/api/studies/doomed/delete", {"confirm": "doomed"}, {"x-sanas-dashboard": "1"}
        )
        assert status == 403 and b"--allow-delete" in text
    finally:
        ro.close()
    rw = Dashboard(controller.address, "--allow-delete")
    try:
        headers = {"x-sanas-dashboard": "1", "content-type": "application/json"}
        status, text = rw.post("/api/studies/doomed/delete", {"confirm": "wrong"}, headers)
        assert status == 400 and b"type the study id" in text
        status, _ = rw.post("/api/studies/doomed/delete", {"confirm": "doomed"}, {})
        assert status == 400
        status, text = rw.post("/api/studies/doomed/delete", {"confirm": "doomed"}, headers)
        assert status == 200
        answer = json.loads(text)
        assert answer["deleted"] == "doomed" and answer["purged"] is False
        with Client(controller.address) as c:
            assert [s.study_id for s in c.list_studies()] == []
            # The dashboard's delete is soft: kept, and undeletable until it expires.
            (kept,) = c.list_studies(show_deleted=True)
            assert kept.state == pb.STUDY_STATE_DELETED
            expires = datetime.datetime.fromisoformat(answer["expire_time"])
            assert expires == kept.expire_time.ToDatetime(datetime.timezone.utc)
    finally:
        rw.close()


def test_token_checked_on_every_request(controller: ServerProcess, tmp_path: Path) -> None:
    make_study(controller.address, "s", 10, 2)
    token = "tok-" + "x" * 20
    (tmp_path / "token").write_text(token)
    # Loopback with a token file: the token is still required.
    dash = Dashboard(controller.address, "--dashboard-token-file", str(tmp_path / "token"))
    try:
        for path in ("/", "/api/studies", "/api/studies/s/events", "/static/app.js"):
            assert dash.get(path)[0] == 401, path
        assert dash.get("/api/studies", {"authorization": "Bearer wrong"})[0] == 401
        assert dash.get("/api/studies", {"authorization": f"Bearer {token}"})[0] == 200
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(f"{dash.url}/?token={token}", timeout=10) as r:
            assert r.status == 200 and r.url == f"{dash.url}/"  # redirected, cookie set
        with opener.open(f"{dash.url}/api/studies/s", timeout=10) as r:
            assert json.loads(r.read())["study_id"] == "s"
        # Another app's malformed cookie on the same host does not hide the token's.
        odd = {"cookie": 'grafana_session={"a":1}; x="unterminated; sanas_dashboard=' + token}
        assert dash.get("/api/studies", odd)[0] == 200
    finally:
        dash.close()


def test_a_loopback_dashboard_answers_only_loopback_names(controller: ServerProcess) -> None:
    # DNS rebinding: a page of attacker.example rebound to 127.0.0.1 is same-origin to
    # the browser, so the dashboard itself must refuse requests addressed to that name.
    make_study(controller.address, "victim", 10, 1)
    dash = Dashboard(controller.address, "--allow-delete")
    try:
        rebound = {"host": "attacker.example", "origin": "http://attacker.example"}
        status, text = dash.get("/api/studies", rebound)
        assert status == 421 and b"127.0.0.1" in text
        headers = {"x-sanas-dashboard": "1", "content-type": "application/json"}
        status, _ = dash.post(
            "/api/studies/victim/delete", {"confirm": "victim"}, headers | rebound
        )
        assert status == 421
        # A delete from a page of another origin (another local port) is refused too.
        other = headers | {"origin": "http://127.0.0.1:1"}
        status, text = dash.post("/api/studies/victim/delete", {"confirm": "victim"}, other)
        assert status == 403 and b"another origin" in text
        for name in ("localhost", "127.0.0.1", "[::1]"):
            port = dash.url.rsplit(":", 1)[1]
            assert dash.get("/api/health", {"host": f"{name}:{port}"})[0] == 200, name
        with Client(controller.address) as c:
            assert [s.study_id for s in c.list_studies()] == ["victim"]
    finally:
        dash.close()


def test_a_controller_that_is_down_gets_an_answer_in_seconds(tmp_path: Path) -> None:
    # Each waiting page holds a worker thread: the dashboard gives up on the controller
    # after a few seconds (not the CLI's 30) and says so.
    dash = Dashboard("127.0.0.1:1")
    try:
        started = time.monotonic()
        status, text = dash.get("/api/studies")
        waited = time.monotonic() - started
        assert status in (502, 504) and text, (status, text)
        assert waited < 9, waited
    finally:
        dash.close()


def test_csv_text_cells_cannot_run_as_spreadsheet_formulas() -> None:
    from sanas.dashboard.app import spreadsheet_safe

    assert spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert spreadsheet_safe("trainer-1") == "trainer-1"
    assert spreadsheet_safe(-0.5) == -0.5  # numbers stay numbers


def test_bad_input_is_a_clear_4xx(controller: ServerProcess) -> None:
    make_study(controller.address, "s", 10, 2)
    dash = Dashboard(controller.address)
    try:
        status, text = dash.get("/api/studies/s/trials?limit=100000")
        assert status == 400 and b"limit" in text
        assert dash.get("/api/studies/nope")[0] == 404
        assert dash.get("/api/studies/s/trials/999")[0] == 404
        assert dash.get("/api/studies/" + "x" * 300)[0] == 400
        status, text = dash.get("/api/studies/s/trials.csv?state=stopped")
        assert status == 200 and text.startswith(b"trial_id,state,reward")
    finally:
        dash.close()


# -- in the browser ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # Not a skip: `make test` installs them (tools/system_deps.sh), so missing is a failure.
    assert Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists(), (
        "Debian chromium + chromium-driver are not installed: run `make tools`"
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1280,1600")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def trainer(address: str, study_id: str, stop: threading.Event, limit: int) -> None:
    """Suggests and completes trials (with progress, some stopped early) until told."""
    with Client(address, client_id="bg-trainer") as c:
        for i in range(limit):
            if stop.is_set():
                return
            t = c.suggest_trial(study_id)
            poor = i % 3 == 2  # a poor learner: the median rule stops it
            values = (0.05, 0.06) if poor else (0.3 + 0.001 * i, 0.4 + 0.001 * i)
            stopped = False
            for step, value in enumerate(values, 1):
                answer = c.report_progress(study_id, t.trial_id, step, value, max_step=3)
                if answer.should_stop:
                    stopped = True
                    break
            if not stopped:
                c.complete_trial(study_id, t.trial_id, 0.5 + 0.002 * i)
            time.sleep(0.15)


def eventually(predicate: object, timeout: float = 10.0) -> None:
    """wait_until, where a node re-rendered under the driver (stale) counts as not yet."""
    from selenium.common.exceptions import StaleElementReferenceException

    def tolerant() -> bool:
        try:
            return bool(predicate())  # type: ignore[operator]
        except (StaleElementReferenceException, ValueError, TypeError):
            return False

    wait_until(tolerant, timeout)


def no_severe_logs(driver: object) -> None:
    logs = driver.get_log("browser")  # type: ignore[attr-defined]
    severe = [e for e in logs if e["level"] == "SEVERE"]
    assert not severe, severe


def shoot(driver: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]


def test_live_dashboard_in_browser(
    controller: ServerProcess, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    make_study(
        controller.address,
        "live",
        400,
        12,
        early_stopping=median_stopping(1, 3),
        policy="model-guided",
    )
    stop = threading.Event()
    worker = threading.Thread(
        target=trainer, args=(controller.address, "live", stop, 200), daemon=True
    )
    dash = Dashboard(controller.address)
    find = driver.find_element  # type: ignore[attr-defined]
    try:
        driver.get(dash.url + "/")  # type: ignore[attr-defined]
        eventually(lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-study=live]"), 15)
        assert "active" in find(By.CSS_SELECTOR, "tr[data-study=live]").text
        shoot(driver, "studies")
        no_severe_logs(driver)

        find(By.LINK_TEXT, "live").click()
        eventually(lambda: find(By.ID, "s-completed").text == "12", 15)
        worker.start()
        # Completed count rises with no reload (SSE); the page object stays the same.
        marker = driver.execute_script("window.__same = 1; return 1")  # type: ignore[attr-defined]
        assert marker == 1

        def completed() -> int:
            return int(find(By.ID, "s-completed").text.replace(",", ""))

        eventually(lambda: completed() >= 18, 30)
        # The policy card: which policy proposes, and how well its model ranks.
        eventually(lambda: "model-guided, rank correlation" in find(By.ID, "s-policy").text, 30)
        assert driver.execute_script("return window.__same") == 1  # type: ignore[attr-defined]
        eventually(lambda: int(find(By.ID, "chart-reward").get_attribute("data-points")) >= 15, 15)
        assert find(By.CSS_SELECTOR, "#best .block")  # the best architecture's blocks
        assert "FLOPs" in find(By.ID, "best").text
        assert "bg-trainer" in find(By.ID, "trainers").text

        # Early stopping: stopped trials are counted, and their curves drawn dashed.
        def curves_title() -> str:
            return find(By.CSS_SELECTOR, "#chart-curves .u-title").text

        eventually(lambda: int(find(By.ID, "s-stopped").text) >= 1, 15)
        eventually(lambda: "stopped early" in curves_title() and "(0 " not in curves_title(), 10)
        assert driver.find_elements(By.CSS_SELECTOR, "#chart-curves canvas")
        stop.set()
        worker.join(timeout=10)
        shoot(driver, "study")
        # A second tab on the same study shares the one WatchStudy stream.
        first = driver.current_window_handle  # type: ignore[attr-defined]
        driver.switch_to.new_window("tab")  # type: ignore[attr-defined]
        driver.get(dash.url + "/study/live")  # type: ignore[attr-defined]

        def feed() -> dict:
            return json.loads(dash.get("/api/health")[1])["feeds"]["live"]

        eventually(lambda: feed()["subscribers"] == 2, 15)
        assert feed()["streams_opened"] == 1
        no_severe_logs(driver)
        driver.close()  # type: ignore[attr-defined]
        driver.switch_to.window(first)  # type: ignore[attr-defined]

        # Sort by reward, largest first: the top row has the largest reward.
        def click(css: str) -> str:
            """Clicks the element (again, if a live refresh replaced it); its text."""
            from selenium.common.exceptions import StaleElementReferenceException

            for _ in range(20):
                try:
                    node = find(By.CSS_SELECTOR, css)
                    text = node.text
                    node.click()
                    return text
                except StaleElementReferenceException:
                    time.sleep(0.1)
            raise AssertionError(f"{css} kept going stale")

        click("#trials th[data-sort=reward]")
        eventually(lambda: "▼" in find(By.CSS_SELECTOR, "#trials th[data-sort=reward]").text, 10)

        def rewards() -> list[float]:
            cells = driver.find_elements(By.CSS_SELECTOR, "#trials tr.row td.reward")
            return [float(c.text) for c in cells if c.text != "-"]

        eventually(lambda: len(rewards()) > 3 and rewards() == sorted(rewards(), reverse=True), 10)
        # Filter by state and trainer.
        Select(find(By.ID, "f-state")).select_by_value("succeeded")
        find(By.ID, "f-trainer").send_keys("bg-")
        click("#f-apply")

        def filtered() -> bool:
            rows = driver.find_elements(By.CSS_SELECTOR, "#trials tr.row")
            return bool(rows) and all(
                "bg-trainer" in r.text and "succeeded" in r.text for r in rows
            )

        eventually(filtered, 10)
        total = int(find(By.ID, "trials").get_attribute("data-total"))
        with Client(controller.address) as c:
            mine = [t for t in c.list_trials("live") if t.client_id == "bg-trainer"]
        assert total == sum(t.state == pb.TRIAL_STATE_SUCCEEDED for t in mine)
        no_severe_logs(driver)

        # A trial's detail: tokens and decoded architecture.
        trial_id = click("#trials tr.row td a").lstrip("#")
        eventually(lambda: driver.find_elements(By.ID, "trial-detail"), 10)
        assert find(By.CSS_SELECTOR, "h1").text == f"Trial #{trial_id}"
        tokens = find(By.CSS_SELECTOR, "td[data-field=tokens]").text.split()
        assert len(tokens) > 5
        assert driver.find_elements(By.CSS_SELECTOR, ".block")
        assert driver.find_elements(By.CSS_SELECTOR, "#trial-curve canvas")
        shoot(driver, "trial")
        no_severe_logs(driver)

        # Another site cannot frame the dashboard: Chromium refuses, citing the CSP.
        seen: list[str] = []

        def refused() -> bool:
            seen.extend(e["message"] for e in driver.get_log("browser"))  # type: ignore[attr-defined]
            return any("frame-ancestors" in m for m in seen)

        framing = tmp_path / "framing.html"
        framing.write_text(f"<iframe src='{dash.url}/study/live'></iframe>")
        driver.get(framing.as_uri())  # type: ignore[attr-defined]
        eventually(refused, 10)
    finally:
        stop.set()
        dash.close()


def test_scale_bench_quick_run_prints_its_figures() -> None:
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "dashboard_scale.py"),
            *("--trials", "2000", "--repeat", "2"),
            *("--curve-trials", "10", "--curve-points", "300"),
            *("--open-studies", "3", "--max-watchers", "8"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "open, warm" in run.stdout and "median" in run.stdout
    assert run.stdout.count("table page") == 7
    assert "health during 4 concurrent CSV exports" in run.stdout
    assert "/series of 10 curves x 300 points" in run.stdout
    assert "opened 3 active studies once each: HTTP statuses {200: 3}" in run.stdout
    assert "VmHWM" in run.stdout
