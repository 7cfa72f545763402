"""The HTTP API and the web page of ``gir serve`` (FastAPI).

    from gir.serve.app import create_app
    app = create_app(ServeConfig(workers=2))      # an ASGI app: uvicorn.run(app) or TestClient(app)

Routes (every error is JSON ``{"error": "..."}``):

- ``GET /``: the web page (``static/index.html``); ``GET /docs``: the API page; ``GET /openapi.json``: its schema.
- ``GET /v1/health``: 200 ``{"status": "ok", "version", workers, queue, limits, options}``.
- ``POST /v1/jobs``: multipart ``file`` (+ ``scale``, ``mode``, ``only``, ``skip``) -> 202 ``{"id", "status":
  "queued"}``; 413 too large, 400 empty or malformed, 415 not an image, 422 undecodable, over the pixel limit
  or an unsupported option, 429 queue full (``Retry-After``).
- ``GET /v1/jobs/{id}``: ``{"id", "status", "progress", "report" and "explanation" when done, "error" when
  failed or cancelled}``; 404 unknown.
- ``GET /v1/jobs/{id}/result``: the restored image, as ``gir restore`` writes it; 409 while not done; 404.
- ``DELETE /v1/jobs/{id}``: cancels a queued or running job -> 200; 409 once finished; 404.
- ``POST /v1/analyze``: multipart ``file`` -> 200 ``gir analyze --json`` of it; the upload errors above.
- ``GET /v1/models``: the shipped weights with their model cards.

Bound to loopback, :class:`LoopbackGuard` answers loopback host names only and refuses POST/DELETE from
other sites' pages. The event loop never restores or decodes: uploads are streamed to the job's folder, the
image check runs in a thread (one at a time), jobs run in the worker processes of
:class:`~gir.serve.jobs.WorkerPool`.
"""
from __future__ import annotations

import shutil
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

import gir
from gir.serve import worker
from gir.serve.config import ServeConfig, is_loopback
from gir.serve.jobs import DONE, FINISHED, QUEUED, Job, NotCancellable, QueueFull, Task, WorkerPool
from gir.serve.options import OptionError, parse_options, supported_options
from gir.serve.uploads import (FILE_FIELD, ImageInfo, UploadError, inspect_image, receive_upload,
                               require_file)

STATIC_DIR = Path(__file__).resolve().parent / "static"
MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".tif": "image/tiff",
               ".tiff": "image/tiff", ".webp": "image/webp"}
RESTORE_FIXED_UNITS = 0.2  # the analysis and start-up part of a restore, in megapixels of the time estimate
ANALYZE_UNITS = 0.05
TASKS = {"restore": worker.restore_job, "analyze": worker.analyze_job}  # what the workers run, by job kind


# ------------------------------------------------------------------------------------- schema (for docs)
class ErrorBody(BaseModel):
    error: str


class JobCreated(BaseModel):
    id: str
    status: str
    url: str


class JobState(BaseModel):
    id: str
    status: str
    progress: float
    name: str
    options: dict
    queue_position: int | None = None
    report: dict | None = None
    explanation: str | None = None
    result: str | None = None
    download_name: str | None = None
    error: str | None = None


UPLOAD_ERRORS = {400: "an empty file, a malformed multipart body or no `file` field",
                 413: "the body is over the upload limit (gir serve --max-upload-mb)",
                 415: "not multipart/form-data, or the file is not an image",
                 422: "the image cannot be decoded or is over the pixel limit (gir serve --max-pixels), or an "
                      "option the restore API does not support yet",
                 429: "the queue is full; Retry-After says when to try again"}
UNKNOWN_JOB = {404: "no such job (unknown id, or expired)"}


def _errors(meanings: dict[int, str]) -> dict:
    """OpenAPI responses of the error statuses of a route: ``{"error": "..."}`` with what each means."""
    return {code: {"model": ErrorBody, "description": text} for code, text in meanings.items()}


def _upload_body(with_options: bool) -> dict:
    """The OpenAPI request body of an upload route (the body is read by :func:`receive_upload`)."""
    props = {FILE_FIELD: {"type": "string", "format": "binary", "description": "the image"}}
    if with_options:
        props |= {"scale": {"type": "integer", "description": "output scale: 1, 2, 3 or 4 (restored, then upscaled)"},
                  "mode": {"type": "string", "description": "fidelity (supported today)"},
                  "only": {"type": "string", "description": "restore only these families, e.g. noise,jpeg"},
                  "skip": {"type": "string", "description": "never restore these families, e.g. damage"}}
    schema = {"type": "object", "required": [FILE_FIELD], "properties": props}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


# ---------------------------------------------------------------------------------------------- the app
def create_app(config: ServeConfig | None = None, *, init: tuple | None = None,
               tasks: dict | None = None) -> FastAPI:
    """The ASGI app of one server. ``init``: what each new worker process runs first (default
    :func:`gir.serve.worker.init_worker` with the config's threads and warm-up); ``tasks``: the functions
    the workers run for ``"restore"`` and ``"analyze"`` jobs (default :data:`TASKS`; tests pass stand-ins
    with the same signature). The worker pool starts and stops with the app's lifespan (``with
    TestClient(app)`` or uvicorn)."""
    config = config or ServeConfig()
    init = init or (worker.init_worker, {"threads": config.threads_per_worker, "warm": config.warm})
    tasks = {**TASKS, **(tasks or {})}
    pool = WorkerPool(config.worker_count, config.queue_limit, config.expire_s, init=init,
                      temp_parent=config.temp_parent)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.decode_limiter = anyio.CapacityLimiter(1)
        pool.start()
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(title="gir serve", version=gir.__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None, description="Restore photos over HTTP: the API of `gir serve`. Every error "
                                              "is JSON {\"error\": \"...\"}.")
    app.state.pool = pool
    app.state.config = config
    if is_loopback(config.host):
        app.add_middleware(LoopbackGuard)
    _add_error_handlers(app)
    _add_page_routes(app)
    _add_api_routes(app, pool, config, tasks)
    return app


class LoopbackGuard:
    """ASGI middleware of a server bound to loopback: answers 400 to a request whose Host is not a loopback
    name (a DNS-rebinding page that resolved its own name to 127.0.0.1) and 403 to a POST or DELETE sent by a
    page of another host (its Origin header), so that web sites the user visits cannot use the server."""

    UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refusal = self.refusal(scope)
            if refusal is not None:
                return await refusal(scope, receive, send)
        await self.app(scope, receive, send)

    def refusal(self, scope) -> JSONResponse | None:
        from urllib.parse import urlsplit

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = urlsplit(f"//{headers.get('host', '')}").hostname or ""
        if not is_loopback(host):
            return _error(400, f"Host {headers.get('host', '')!r} is not this machine: a server bound to "
                               f"loopback answers localhost and 127.0.0.1 only")
        origin = headers.get("origin")
        if scope["method"] in self.UNSAFE and origin is not None:
            if not is_loopback(urlsplit(origin).hostname or ""):
                return _error(403, f"a page of {origin} may not send {scope['method']} requests to this server")
        return None


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error answered as ``{"error": "..."}`` with its status."""

    @app.exception_handler(UploadError)
    async def upload_error(request: Request, exc: UploadError):
        return _error(exc.status, exc.message)

    @app.exception_handler(OptionError)
    async def option_error(request: Request, exc: OptionError):
        return _error(422, str(exc))

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull):
        return _error(429, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        generic = {404: f"no such page or endpoint: {request.url.path}",
                   405: f"method {request.method} is not allowed on {request.url.path}"}
        own = exc.detail != HTTPStatus(exc.status_code).phrase  # a message of ours, not the status's name
        message = str(exc.detail) if own else generic.get(exc.status_code, str(exc.detail))
        return _error(exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")


def _add_page_routes(app: FastAPI) -> None:
    """The web page, its static files and the offline API page."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return FileResponse(STATIC_DIR / "docs.html", media_type="text/html")


def _add_api_routes(app: FastAPI, pool: WorkerPool, config: ServeConfig, tasks: dict) -> None:
    @app.get("/v1/health", summary="Server status, queue, limits and the options a job may take")
    async def health():
        return {"status": "ok", "version": gir.__version__, **pool.stats(),
                "limits": {"max_upload_bytes": config.max_upload_bytes, "max_pixels": config.max_pixels},
                "options": supported_options()}

    @app.post("/v1/jobs", status_code=202, summary="Upload a photo to restore; answers the job's id",
              response_model=JobCreated, openapi_extra=_upload_body(with_options=True),
              responses=_errors(UPLOAD_ERRORS))
    async def create_job(request: Request):
        pool.check_capacity()  # before the body is read: a full queue costs the client no upload
        job_id, folder = pool.new_folder()
        try:
            job = await _receive_job(request, job_id, folder, config, tasks["restore"])
            pool.submit(job)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        url = f"/v1/jobs/{job.id}"
        return JSONResponse({"id": job.id, "status": QUEUED, "url": url}, status_code=202,
                            headers={"Location": url})

    @app.get("/v1/jobs/{job_id}", summary="A job's status, progress, report and explanation",
             response_model=JobState, responses=_errors(UNKNOWN_JOB))
    async def job_state(job_id: str):
        return job_view(pool, _job(pool, job_id))

    @app.get("/v1/jobs/{job_id}/result", summary="The restored image (as `gir restore` writes it)",
             response_class=FileResponse,
             responses=_errors({**UNKNOWN_JOB, 409: "the job is not done (queued, running, failed or cancelled)"}))
    async def job_result(job_id: str):
        job = _job(pool, job_id)
        state = pool.view(job)
        if state["status"] != DONE:
            reason = f": {state['error']}" if state["error"] else ""
            return _error(409, f"job {job_id} is {state['status']}{reason}; the result exists once it is done")
        path = job.folder / state["value"]["result"]
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                            filename=download_name(job.name, path.suffix), content_disposition_type="inline")

    @app.delete("/v1/jobs/{job_id}", summary="Cancel a queued or running job",
                responses=_errors({**UNKNOWN_JOB, 409: "the job has already finished"}))
    async def cancel_job(job_id: str):
        try:
            status = pool.cancel(job_id)
        except KeyError:
            return _error(404, f"no job {job_id} (unknown, or expired)")
        except NotCancellable as e:
            return _error(409, str(e))
        return {"id": job_id, "status": status}

    @app.post("/v1/analyze", summary="What is wrong with a photo: `gir analyze --json` of it",
              openapi_extra=_upload_body(with_options=False),
              responses=_errors({**UPLOAD_ERRORS, 500: "the analysis failed in its worker"}))
    async def analyze(request: Request):
        pool.check_capacity()
        job_id, folder = pool.new_folder()
        try:
            job = await _receive_job(request, job_id, folder, config, tasks["analyze"], kind="analyze")
            pool.submit(job, front=True)
            await pool.wait(job)
            state = pool.view(job)
        finally:
            _forget(pool, job_id, folder)
        if state["status"] != DONE:
            return _error(500, f"the analysis failed: {state['error']}")
        return JSONResponse(state["value"])

    @app.get("/v1/models", summary="The shipped weights and their model cards")
    async def models():
        return {"models": await anyio.to_thread.run_sync(shipped_weights)}


# --------------------------------------------------------------------------------------------- helpers
async def _receive_job(request: Request, job_id: str, folder: Path, config: ServeConfig, fn,
                       kind: str = "restore") -> Job:
    """Read and check an upload into ``folder`` -> its :class:`Job` (not yet queued) that runs ``fn``. Raises
    :class:`UploadError` / :class:`OptionError` with the status to answer."""
    upload = await receive_upload(request, folder / "upload.part", config.max_upload_bytes)
    path = require_file(upload)
    if kind == "analyze" and upload.fields:
        raise OptionError(f"unknown option {sorted(upload.fields)[0]!r}; /v1/analyze takes only the file")
    options = parse_options(upload.fields) if kind == "restore" else None
    info: ImageInfo = await anyio.to_thread.run_sync(inspect_image, path, upload.name, config.max_pixels,
                                                     limiter=request.app.state.decode_limiter)
    input_name = f"input{info.suffix}"
    path.rename(folder / input_name)
    megapixels = info.pixels / 1e6
    if kind == "analyze":
        task = Task(fn, {"folder": str(folder), "input_name": input_name, "name": upload.name})
        return Job(job_id, kind, upload.name, folder, task, units=ANALYZE_UNITS, public=False)
    task = Task(fn, {"folder": str(folder), "input_name": input_name, "name": upload.name,
                                     "options": options.restore_kwargs()})
    return Job(job_id, kind, upload.name, folder, task, units=megapixels + RESTORE_FIXED_UNITS,
               options=options.to_dict())


def _forget(pool: WorkerPool, job_id: str, folder: Path) -> None:
    """Drop an analysis job however its request ended (a client that left cancels it)."""
    job = pool.get(job_id, public=False)
    if job is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    if job.status not in FINISHED:
        try:
            pool.cancel(job_id, public=False)
        except (KeyError, NotCancellable):
            pass
    pool.remove(job)


def _job(pool: WorkerPool, job_id: str) -> Job:
    job = pool.get(job_id)
    if job is None:
        raise StarletteHTTPException(404, f"no job {job_id} (unknown, or expired)")
    return job


def job_view(pool: WorkerPool, job: Job) -> dict:
    """The JSON of ``GET /v1/jobs/{id}``: status and progress; when done the ``gir restore --json`` report
    (``output``: the result's address), the ``--explain`` text, the result's address and the name it is
    offered under; when failed or cancelled, why."""
    state = pool.view(job)
    body = {k: state[k] for k in ("id", "status", "progress", "name", "options")}
    if state["queue_position"] is not None:
        body["queue_position"] = state["queue_position"]
    if state["status"] == DONE:
        url = f"/v1/jobs/{job.id}/result"
        suffix = Path(state["value"]["result"]).suffix
        body |= {"report": {**state["value"]["report"], "output": url},
                 "explanation": state["value"]["explanation"], "result": url,
                 "download_name": download_name(job.name, suffix)}
    elif state["error"]:
        body["error"] = state["error"]
    return body


def download_name(name: str, suffix: str) -> str:
    """The file name a result is offered under: the upload's name with ``_restored`` and the result's suffix."""
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    return f"{stem}_restored{suffix}"


def shipped_weights() -> list[dict]:
    """Each shipped weights file: name, size in bytes, the title of its model card and the card (Markdown)."""
    from gir.restore import WEIGHTS_DIR, shipped_models

    rows = []
    for name in shipped_models():
        card_path = WEIGHTS_DIR / f"{name}.md"
        card = card_path.read_text() if card_path.is_file() else None
        title = card.splitlines()[0].lstrip("# ").strip() if card else None
        rows.append({"name": name, "bytes": (WEIGHTS_DIR / f"{name}.safetensors").stat().st_size,
                     "title": title, "card": card})
    return rows


__all__ = ["LoopbackGuard", "create_app", "download_name", "job_view", "shipped_weights"]
