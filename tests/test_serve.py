"""`gir serve`'s HTTP API through FastAPI's test client: every endpoint and every error status (issue 31).

Most tests run stand-in jobs (the module-level functions below, run in the server's real worker processes),
so they take milliseconds; the `real` tests run the restore and analyze APIs on small images and compare
with what `gir restore` and `gir analyze --json` write for the same file and options.
"""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="needs the serve extra: pip install -e '.[serve]'")
pytest.importorskip("python_multipart", reason="needs the serve extra: pip install -e '.[serve]'")
from fastapi.testclient import TestClient  # noqa: E402

from conftest import REPO, natural_image  # noqa: E402
from gir.serve.app import create_app, download_name  # noqa: E402
from gir.serve.config import ServeConfig, is_loopback  # noqa: E402
from gir.serve.options import OptionError, parse_options  # noqa: E402
from gir.serve.uploads import display_name  # noqa: E402
from gir.serve.worker import JobError  # noqa: E402

FINISHED = ("done", "failed", "cancelled")
LOCAL = "http://127.0.0.1:8000"  # a server bound to loopback answers loopback names only


# ------------------------------------------------------------------ stand-in jobs (run in worker processes)
def fake_init() -> None:
    """A worker start-up that loads nothing."""


def fake_restore(folder: str, input_name: str, name: str, options: dict) -> dict:
    """Like :func:`gir.serve.worker.restore_job`: ``slow*`` files take a minute (to be cancelled), ``fail*``
    files fail, others are copied as their own result."""
    if name.startswith("slow"):
        time.sleep(60)
    if name.startswith("fail"):
        raise JobError(f"{name}: a stand-in failure")
    if name.startswith("crash"):
        os._exit(3)  # as a worker killed for memory
    out = Path(folder) / "out"
    out.mkdir()
    shutil.copyfile(Path(folder) / input_name, out / input_name)
    return {"result": f"out/{input_name}", "report": {"file": name, "options": options}, "explanation": "copied"}


def broken_init() -> None:
    raise RuntimeError("no weights here")


def fake_analyze(folder: str, input_name: str, name: str) -> list:
    return [{"file": name, "clean": 1.0}]


FAKES = {"restore": fake_restore, "analyze": fake_analyze}


# ---------------------------------------------------------------------------------------------- helpers
def png_bytes(tmp_path: Path, h: int = 32, w: int = 40, seed: int = 0, name: str = "p.png") -> bytes:
    from gir.io import write_image

    path = tmp_path / name
    write_image(path, natural_image(h, w, seed))
    return path.read_bytes()


def post_job(client, data: bytes, name: str = "photo.png", **fields):
    return client.post("/v1/jobs", files={"file": (name, data, "image/png")}, data=fields)


def wait_for(client, job_id: str, until=FINISHED, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/v1/jobs/{job_id}").json()
        if state["status"] in until:
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {state['status']} after {timeout} s")


def assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"], body
    for word in words:
        assert word in body["error"], body["error"]


def make_client(tmp_path: Path, **config) -> TestClient:
    settings = {"workers": 1, "queue_limit": 4, "temp_parent": str(tmp_path), "warm": False, **config}
    return TestClient(create_app(ServeConfig(**settings), init=(fake_init, {}), tasks=FAKES), base_url=LOCAL)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    temp = tmp_path_factory.mktemp("serve")
    with make_client(temp, max_upload_bytes=64 << 10, max_pixels=100_000) as c:
        yield c


@pytest.fixture
def data(tmp_path) -> bytes:
    return png_bytes(tmp_path)


# ------------------------------------------------------------------------------------- pages and health
def test_health_says_ok_with_limits_and_supported_options(client):
    r = client.get("/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["workers"] == 1 and body["queue_limit"] == 4
    assert body["limits"] == {"max_upload_bytes": 64 << 10, "max_pixels": 100_000}
    assert body["options"]["scale"] == [1, 2, 3, 4] and body["options"]["mode"] == ["fidelity", "perceptual"]
    assert "noise" in body["options"]["families"]


def test_page_static_files_openapi_and_docs_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="drop"' in page.text and "/static/app.js" in page.text
    assert "http" not in page.text.replace("HTTP API", "")  # nothing from another host: works offline
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/v1/health", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/analyze",
            "/v1/models"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]
    assert "429" in spec["paths"]["/v1/jobs"]["post"]["responses"]
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_other_hosts_and_other_sites_pages_are_refused(client, data):
    assert_error(client.get("/v1/health", headers={"host": "attacker.example"}), 400, "not this machine")
    evil = {"origin": "http://attacker.example"}
    assert_error(client.post("/v1/jobs", files={"file": ("a.png", data)}, headers=evil), 403, "attacker.example")
    assert_error(client.delete("/v1/jobs/x", headers=evil), 403)
    assert client.get("/v1/health", headers=evil).status_code == 200  # reading is the same-origin policy's job
    assert client.get("/v1/health", headers={"host": "localhost:8000"}).status_code == 200
    r = client.post("/v1/jobs", files={"file": ("fine.png", data)}, headers={"origin": "http://localhost:8000"})
    assert r.status_code == 202
    wait_for(client, r.json()["id"])


def test_a_server_bound_to_all_interfaces_answers_any_host(tmp_path, data):
    with TestClient(create_app(ServeConfig(host="0.0.0.0", workers=1, temp_parent=str(tmp_path), warm=False),
                               init=(fake_init, {}), tasks=FAKES)) as c:
        assert c.get("/v1/health").status_code == 200  # Host: testserver


def test_unknown_routes_and_methods_answer_json_errors(client):
    assert_error(client.get("/v1/nothing"), 404, "/v1/nothing")
    assert_error(client.put("/v1/health"), 405, "PUT")


# ------------------------------------------------------------------------------------------ job lifecycle
def test_a_scale_2_job_passes_the_scale_to_restore(client, data):
    r = post_job(client, data, scale="2", only="noise")
    assert r.status_code == 202, r.text
    state = wait_for(client, r.json()["id"])
    assert state["status"] == "done" and state["options"]["scale"] == 2
    assert state["report"]["options"] == {"only": "noise", "skip": None, "scale": 2, "mode": "fidelity"}  # restore_files(scale=2)


def test_job_runs_and_its_result_report_and_progress_are_served(client, data):
    r = post_job(client, data, name="dir/holiday photo.png", only="noise")
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued" and r.headers["location"] == f"/v1/jobs/{body['id']}"
    state = wait_for(client, body["id"])
    assert state["status"] == "done" and state["progress"] == 1.0
    assert state["name"] == "holiday photo.png"  # the last path component only
    assert state["options"] == {"scale": 1, "mode": "fidelity", "only": "noise", "skip": None}
    assert state["report"]["output"] == state["result"] == f"/v1/jobs/{body['id']}/result"
    assert state["report"]["options"] == {"only": "noise", "skip": None, "scale": 1,
                                          "mode": "fidelity"}  # what the worker was given
    assert state["explanation"] == "copied" and state["download_name"] == "holiday photo_restored.png"
    result = client.get(state["result"])
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    assert result.content == data
    assert "holiday%20photo_restored.png" in result.headers["content-disposition"]


def test_unknown_job_is_404_everywhere(client):
    for response in (client.get("/v1/jobs/nope"), client.get("/v1/jobs/nope/result"),
                     client.delete("/v1/jobs/nope")):
        assert_error(response, 404, "no job nope (unknown, or expired)")


def test_result_is_409_until_done_and_a_running_job_can_be_cancelled(client, data):
    job = post_job(client, data, name="slow.png").json()["id"]
    wait_for(client, job, until=("running",))
    assert_error(client.get(f"/v1/jobs/{job}/result"), 409, "running")
    r = client.delete(f"/v1/jobs/{job}")
    assert r.status_code == 200 and r.json() == {"id": job, "status": "cancelled"}
    state = client.get(f"/v1/jobs/{job}").json()
    assert state["status"] == "cancelled" and "cancelled" in state["error"]
    assert_error(client.get(f"/v1/jobs/{job}/result"), 409, "cancelled")
    assert_error(client.delete(f"/v1/jobs/{job}"), 409, "already finished")


def test_a_cancelled_running_job_frees_its_worker(client, data):
    slow = post_job(client, data, name="slow.png").json()["id"]
    wait_for(client, slow, until=("running",))
    quick = post_job(client, data, name="quick.png").json()["id"]
    assert client.get(f"/v1/jobs/{quick}").json()["queue_position"] == 0
    t0 = time.monotonic()
    assert client.delete(f"/v1/jobs/{slow}").status_code == 200
    assert wait_for(client, quick, timeout=30)["status"] == "done"
    assert time.monotonic() - t0 < 30  # the slow job would have held the only worker for a minute


def test_a_queued_job_can_be_cancelled(client, data):
    slow = post_job(client, data, name="slow.png").json()["id"]
    queued = post_job(client, data, name="queued.png").json()["id"]
    assert client.get(f"/v1/jobs/{queued}").json()["status"] == "queued"
    assert client.delete(f"/v1/jobs/{queued}").json()["status"] == "cancelled"
    assert client.get(f"/v1/jobs/{queued}").json()["status"] == "cancelled"
    client.delete(f"/v1/jobs/{slow}")


def test_a_failed_job_says_why(client, data):
    job = post_job(client, data, name="fail.png").json()["id"]
    state = wait_for(client, job)
    assert state["status"] == "failed" and state["error"] == "fail.png: a stand-in failure"
    assert_error(client.get(f"/v1/jobs/{job}/result"), 409, "failed", "stand-in failure")


def test_a_worker_that_dies_fails_its_job_and_is_replaced(client, data):
    job = post_job(client, data, name="crash.png").json()["id"]
    state = wait_for(client, job)
    assert state["status"] == "failed" and "worker process stopped (exit code 3" in state["error"]
    assert wait_for(client, post_job(client, data).json()["id"])["status"] == "done"


def test_workers_that_cannot_start_fail_jobs_with_the_reason(tmp_path, data, monkeypatch):
    monkeypatch.setattr("gir.serve.jobs.RETRY_START_S", 0.1)
    app = create_app(ServeConfig(workers=1, temp_parent=str(tmp_path)), init=(broken_init, {}), tasks=FAKES)
    with TestClient(app, base_url=LOCAL) as c:
        state = wait_for(c, post_job(c, data).json()["id"])
        assert state["status"] == "failed"
        assert state["error"] == "the worker could not start: RuntimeError: no weights here"
        assert c.get("/v1/health").json()["workers_ready"] == 0


def test_gir_serve_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    from gir.cli import main

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    assert main(["serve"]) == 2
    assert 'pip install -e ".[serve]"' in capsys.readouterr().err


def test_full_queue_answers_429_with_retry_after(tmp_path, data):
    with make_client(tmp_path, queue_limit=1) as c:
        running = post_job(c, data, name="slow-1.png").json()["id"]
        wait_for(c, running, until=("running",))
        waiting = post_job(c, data, name="slow-2.png")
        assert waiting.status_code == 202
        r = post_job(c, data, name="third.png")
        assert_error(r, 429, "queue is full")
        assert int(r.headers["retry-after"]) >= 1
        assert_error(c.post("/v1/analyze", files={"file": ("a.png", data)}), 429, "queue is full")
        assert c.get("/v1/health").json()["queued"] == 1


def test_finished_jobs_expire_with_their_files(client, data):
    job = post_job(client, data).json()["id"]
    wait_for(client, job)
    pool = client.app.state.pool
    assert (pool.root / job).is_dir()
    assert pool.expire(now=time.time() + pool.expire_s + 1) >= 1
    assert_error(client.get(f"/v1/jobs/{job}"), 404)
    assert not (pool.root / job).exists()


def test_the_janitor_expires_jobs_by_itself(tmp_path, data):
    with make_client(tmp_path, expire_s=0.3) as c:
        job = post_job(c, data).json()["id"]
        wait_for(c, job)
        time.sleep(1.0)
        assert_error(c.get(f"/v1/jobs/{job}"), 404)


def test_files_stay_in_the_servers_folder_and_upload_names_never_reach_it(tmp_path, data):
    temp = tmp_path / "parent"
    temp.mkdir()
    with make_client(temp) as c:
        job = post_job(c, data, name="../../evil name.png").json()["id"]
        assert wait_for(c, job)["name"] == "evil name.png"
        pool = c.app.state.pool
        assert [p.name for p in temp.iterdir()] == [pool.root.name]
        files = sorted(str(p.relative_to(pool.root)) for p in pool.root.rglob("*") if p.is_file())
        assert files == [f"{job}/out/input.png"]  # the input is deleted once the job has finished
    assert not any(temp.iterdir())  # the server's folder goes with it


# -------------------------------------------------------------------------------------------- bad inputs
def test_upload_over_the_size_limit_is_413(client):
    big = b"\x89PNG\r\n\x1a\n" + bytes(70 << 10)
    assert_error(post_job(client, big), 413, "limit")


def test_streamed_upload_over_the_size_limit_is_413_without_a_declared_length(client):
    boundary = "xyz"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode()

    def body():
        yield head
        for _ in range(20):
            yield bytes(8 << 10)

    r = client.post("/v1/jobs", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert_error(r, 413, "limit")


@pytest.mark.parametrize("name, payload, status, words", [
    ("empty.png", b"", 400, ("empty",)),
    ("notes.txt", b"just some text, not pixels", 415, ("not an image",)),
    ("cut.png", "TRUNCATED", 422, ("cannot decode",)),
    ("huge.png", "HUGE", 422, ("over this server's limit", "--max-pixels")),
])
def test_bad_images_are_refused_with_the_reason(client, tmp_path, name, payload, status, words):
    if payload == "TRUNCATED":
        payload = png_bytes(tmp_path)[:-40]
    if payload == "HUGE":  # 160,000 flat pixels (a small file), over the module's 100,000
        from gir.io import write_image

        write_image(tmp_path / "flat.png", np.zeros((400, 400, 3), np.float32))
        payload = (tmp_path / "flat.png").read_bytes()
    assert_error(post_job(client, payload, name=name), status, *words)
    assert client.get("/v1/health").status_code == 200  # and the server still serves


def test_requests_without_a_proper_file_are_refused(client, data):
    assert_error(client.post("/v1/jobs", files={"scale": (None, "1")}), 400, "no image", "'file'")
    assert_error(client.post("/v1/jobs", data={"scale": "1"}), 415, "multipart/form-data")
    assert_error(client.post("/v1/jobs", files={"image": ("a.png", data)}), 400, "'file'")
    assert_error(client.post("/v1/jobs", json={"file": "a.png"}), 415, "multipart/form-data")
    two = [("file", ("a.png", data)), ("file", ("b.png", data))]
    assert_error(client.post("/v1/jobs", files=two), 400, "one image")
    assert_error(client.post("/v1/jobs", content=b"--x\r\nnot a part", headers={
        "content-type": "multipart/form-data; boundary=x"}), 400)


@pytest.mark.parametrize("fields, words", [
    ({"scale": "7"}, ("scale 7", "not supported", "supported: 1, 2, 3, 4")),
    ({"scale": "two"}, ("scale must be a number",)),
    ({"mode": "dreamy"}, ("mode dreamy", "not supported", "fidelity, perceptual")),
    ({"only": "noise,sparkle"}, ("only", "sparkle", "known:")),
    ({"skip": "glare"}, ("skip", "glare")),
    ({"sharpness": "11"}, ("unknown option 'sharpness'",)),
])
def test_unsupported_options_are_422_with_the_reason(client, data, fields, words):
    assert_error(post_job(client, data, **fields), 422, *words)


def test_options_are_checked_in_one_place():
    assert parse_options({"scale": "1", "mode": "FIDELITY", "only": " noise,jpeg ", "skip": ""}).to_dict() == {
        "scale": 1, "mode": "fidelity", "only": "noise,jpeg", "skip": None}
    assert parse_options({}).restore_kwargs() == {"only": None, "skip": None, "scale": 1, "mode": "fidelity"}
    assert parse_options({"scale": "4.0"}).scale == 4
    with pytest.raises(OptionError, match="scale 5 is not supported"):
        parse_options({"scale": "5"})


def test_a_client_that_disconnects_mid_upload_leaves_nothing_behind(client, data):
    """The ASGI app is called directly: the body stops half-way with the server's disconnect message."""
    pool = client.app.state.pool
    before = set(pool.root.iterdir())
    body = (b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + data)
    messages = [{"type": "http.request", "body": body[:len(body) // 2], "more_body": True},
                {"type": "http.disconnect"}]
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/jobs", "raw_path": b"/v1/jobs", "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 1), "server": ("testserver", 80),
             "headers": [(b"content-type", b"multipart/form-data; boundary=b"), (b"host", b"127.0.0.1:8000")],
             "state": {}}
    client.portal.call(client.app, scope, receive, send)
    assert sent[0]["status"] == 400
    assert set(pool.root.iterdir()) == before
    assert client.get("/v1/health").status_code == 200


# --------------------------------------------------------------------------------------- analyze, models
def test_analyze_answers_the_workers_json(client, data):
    r = client.post("/v1/analyze", files={"file": ("x/scan.png", data, "image/png")})
    assert r.status_code == 200 and r.json() == [{"file": "scan.png", "clean": 1.0}]
    assert all(job.public for job in client.app.state.pool._jobs.values())  # the analysis left no job behind
    assert_error(client.post("/v1/analyze", files={"file": ("a.png", data)}, data={"only": "noise"}), 422,
                 "takes only the file")
    assert_error(client.post("/v1/analyze", files={"file": ("a.txt", b"text")}), 415, "not an image")


def test_models_lists_the_shipped_weights_with_their_cards(client):
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert "gir-analyzer" in models and models["gir-analyzer"]["bytes"] > 1_000_000
    assert models["gir-analyzer"]["card"].startswith("#") and models["gir-analyzer"]["title"]


# ----------------------------------------------------------------------------------------- small pieces
def test_display_names_and_download_names():
    assert display_name("C:\\photos\\a.jpg") == "a.jpg" and display_name("../../x\x00y.png") == "xy.png"
    assert display_name("") == "image" and display_name("/") == "image"
    assert len(display_name("n" * 500)) == 120
    assert download_name("holiday.final.jpg", ".jpg") == "holiday.final_restored.jpg"
    assert download_name("scan", ".png") == "scan_restored.png"


def test_loopback_is_the_default_and_recognised():
    assert is_loopback(ServeConfig().host)
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def heavy_imports(code: str) -> set[str]:
    """Which of the server's and torch's packages a fresh interpreter has imported after ``code``."""
    probe = "import sys; print([m for m in ('fastapi', 'uvicorn', 'starlette', 'torch') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", f"{code}\n{probe}"], capture_output=True, text=True, check=True)
    return set(ast.literal_eval(out.stdout.strip()))


def test_gir_serve_is_registered_and_importing_gir_stays_light():
    assert heavy_imports("import gir.serve, gir.serve.cli") == set()  # the command's parser: nothing heavy
    assert not heavy_imports("import gir.cli; gir.cli.build_parser()") & {"fastapi", "uvicorn", "starlette"}
    from gir.cli import build_parser

    args = build_parser().parse_args(["serve", "--port", "8123", "--workers", "2"])
    assert (args.host, args.port, args.workers) == ("127.0.0.1", 8123, 2)


# ----------------------------------------------------------------- the real restore and analyze APIs
@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """A server running the real jobs: one worker, one torch thread (as the CLI comparison below)."""
    temp = tmp_path_factory.mktemp("serve-real")
    config = ServeConfig(workers=1, threads=1, temp_parent=str(temp))
    with TestClient(create_app(config), base_url=LOCAL) as c:
        yield c


@pytest.fixture(scope="module")
def one_thread():
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def noisy_photo(folder: Path, suffix: str = ".png", sigma: float = 25.0) -> Path:
    """A 128 x 128 crop of the example photo with Gaussian noise, which the pipeline finds and removes."""
    from gir.io import read_image, write_image

    rng = np.random.default_rng(3)
    img = read_image(REPO / "examples" / "astronaut.png").rgb[100:228, 150:278]
    img = np.clip(img + rng.normal(0, sigma / 255, img.shape), 0, 1).astype(np.float32)
    path = folder / f"noisy{suffix}"
    if suffix == ".bmp":  # gir reads BMP but does not write it
        from PIL import Image

        Image.fromarray((img * 255).round().astype(np.uint8)).save(path, "BMP")
    else:
        write_image(path, img, quality=90)
    return path


def without_times(report: dict) -> dict:
    """A report without its timings (they differ run to run) and the fields that name files."""
    out = json.loads(json.dumps(report))
    out.pop("seconds", None), out.pop("output", None), out.pop("file", None)
    out["diagnosis"].pop("file", None)
    for step in out["steps"]:
        step.pop("seconds", None)
    return out


@pytest.mark.parametrize("suffix, options", [(".png", {}), (".jpg", {}), (".png", {"skip": "noise"}), (".bmp", {})])
def test_result_equals_gir_restore_byte_for_byte(real, one_thread, tmp_path, suffix, options):
    """`gir restore IN -o OUT` with the same options (a BMP cannot be written: OUT is a folder and the CLI
    names the result IN.png there, as the server does)."""
    from gir.cli import main

    src = noisy_photo(tmp_path, suffix)
    r = real.post("/v1/jobs", files={"file": (src.name, src.read_bytes())}, data=options)
    assert r.status_code == 202, r.text
    if suffix == ".bmp":
        (tmp_path / "cli").mkdir()
        out_arg, cli_out = tmp_path / "cli", tmp_path / "cli" / "noisy.png"
    else:
        out_arg = cli_out = tmp_path / f"cli{suffix}"
    flags = [f"--{k}={v}" for k, v in options.items()]
    assert main(["restore", str(src), "-o", str(out_arg), "--json", "-q", *flags]) == 0
    state = wait_for(real, r.json()["id"], timeout=120)
    assert state["status"] == "done", state
    served = real.get(state["result"])
    assert served.content == cli_out.read_bytes()
    assert state["download_name"] == f"noisy_restored{cli_out.suffix}"
    cli_report = json.loads(Path(f"{cli_out}.json").read_text())
    assert without_times(state["report"]) == without_times(cli_report)
    assert state["report"]["file"] == src.name and state["explanation"].startswith(f"{src.name}: ")
    if options:
        assert served.content == src.read_bytes()  # noise skipped: nothing kept, the very same file
    else:
        assert state["report"]["changed"] and "noise: kept" in state["explanation"], state["explanation"]


def test_analyze_equals_gir_analyze_json(real, one_thread, tmp_path, capsys):
    from gir.cli import main

    src = noisy_photo(tmp_path, ".jpg")
    r = real.post("/v1/analyze", files={"file": ("noisy.jpg", src.read_bytes())})
    assert r.status_code == 200, r.text
    capsys.readouterr()
    assert main(["analyze", str(src), "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    cli[0]["file"] = "noisy.jpg"
    assert r.json() == cli
