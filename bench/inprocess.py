"""In-process measurements (no HTTP): the model-alone floor, JPEG decode with and without draft mode,
where the time of one hook goes (profiled stages), and which files a hook opens.

The model floor is `LesionModel.predict` on an already prepared uint8 batch, i.e. only the
onnxruntime call: the physical lower bound for a request with that many photographs."""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.soak import percentile


@dataclass
class Samples:
    """Wall-clock and process CPU time of repeated calls, in ms. CPU time does not grow when other
    processes compete for the cores, so it is the number to compare across runs on a shared machine."""

    wall_ms: list[float]
    cpu_ms: list[float]


def timings_ms(fn: Callable[[], object], *, repeats: int, warmup: int = 2, budget_s: float = 10.0) -> Samples:
    """Time `fn` `repeats` times (fewer if `budget_s` runs out, at least 3)."""
    for _ in range(warmup):
        fn()
    out = Samples([], [])
    stop = time.perf_counter() + budget_s
    while len(out.wall_ms) < repeats and (len(out.wall_ms) < 3 or time.perf_counter() < stop):
        started, cpu = time.perf_counter(), time.process_time()
        fn()
        out.wall_ms.append((time.perf_counter() - started) * 1000.0)
        out.cpu_ms.append((time.process_time() - cpu) * 1000.0)
    return out


def stats(samples: Samples) -> dict[str, float | int]:
    values_ms = samples.wall_ms
    return {
        "n": len(values_ms),
        "p50_ms": round(statistics.median(values_ms), 2),
        "p95_ms": round(percentile(values_ms, 0.95), 2),
        "min_ms": round(min(values_ms), 2),
        "cpu_p50_ms": round(statistics.median(samples.cpu_ms), 2),
    }


# -- model floor -------------------------------------------------------------------------------------


def model_floor(model_dir: Path | None, batches: tuple[int, ...], threads: tuple[int, ...], repeats: int,
                budget_s: float) -> list[dict[str, Any]]:
    """onnxruntime alone: `predict` on prepared batches of each size, for each intra-op thread count."""
    from inference.lesion_model import LesionModel

    rows = []
    rng = np.random.default_rng(0)
    for n_threads in threads:
        model = LesionModel.load(model_dir, threads=n_threads)
        size = model.input_size
        for n in batches:
            batch = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
            values = timings_ms(lambda: model.predict(batch), repeats=repeats, budget_s=budget_s)
            rows.append({"batch": n, "onnx_threads": n_threads, "model_version": model.version, **stats(values)})
    return rows


def recognition(model_dir: Path | None, sets: dict[int, list[bytes]], threads: int, repeats: int,
                budget_s: float) -> dict[int, dict[str, Any]]:
    """Per photo set: (a) the same recognition as the PyTorch baseline done the project's way -
    `decode_image` (draft) + `prepare` + one batched `predict`; (b) all of DERM-Rec
    (`DermRec.read`: also quality gate and lesion attributes); (c) DermRec behind
    `inference.rec_cache.CachingRec` when the photos were seen before (cache hit)."""
    from inference.case import Photo
    from inference.imaging import decode_image
    from inference.lesion_model import LesionModel
    from inference.rec import DermRec
    from inference.rec_cache import CachingRec, RecCache

    model = LesionModel.load(model_dir, threads=threads)
    rec = DermRec(model)
    cached = CachingRec(rec, RecCache())
    out: dict[int, dict[str, Any]] = {}
    for count, jpegs in sorted(sets.items()):
        def classify(jpegs: list[bytes] = jpegs) -> None:
            model.predict(np.stack([model.prepare(decode_image(j, "image/jpeg").image) for j in jpegs]))

        photos = [Photo(ref=f"Media/bench-{i}", data=j, content_type="image/jpeg") for i, j in enumerate(jpegs)]
        out[count] = {
            "onnx_threads": threads,
            "classify": stats(timings_ms(classify, repeats=repeats, budget_s=budget_s)),
            "derm_rec": stats(timings_ms(lambda photos=photos: rec.read(photos), repeats=repeats, budget_s=budget_s)),
            # warm-up fills the cache, so every timed call is a hit: hashing + re-binding only
            "derm_rec_cache_hit": stats(timings_ms(lambda photos=photos: cached.read(photos), repeats=repeats,
                                                   budget_s=budget_s)),
        }
    return out


# -- decoding ----------------------------------------------------------------------------------------


def decode_timings(jpeg: bytes, repeats: int, budget_s: float) -> dict[str, Any]:
    """One JPEG: the service's decoder (`inference.imaging.decode_image`, draft mode) vs a full
    decode with Pillow (what code without draft does), both to the model's input."""
    from inference.imaging import decode_image
    from inference.lesion_model import prepare_image

    with Image.open(io.BytesIO(jpeg)) as probe:
        width, height = probe.size

    def service() -> None:
        prepare_image(decode_image(jpeg, "image/jpeg").image, 224)

    def full() -> None:
        with Image.open(io.BytesIO(jpeg)) as image:
            image.load()
            prepare_image(image.convert("RGB"), 224)

    draft_size = decode_image(jpeg, "image/jpeg").image.size
    return {
        "width": width,
        "height": height,
        "bytes": len(jpeg),
        "draft": {**stats(timings_ms(service, repeats=repeats, budget_s=budget_s)), "decoded_size": list(draft_size)},
        "full": stats(timings_ms(full, repeats=repeats, budget_s=budget_s)),
    }


# -- one hook through the Flask app in-process ----------------------------------------------------------


@dataclass
class InProcessApp:
    """The real app (auth on, real pipeline) behind Flask's test client: no sockets, no gunicorn."""

    client: Any
    url: str
    auth: Callable[[str], str]
    workdir: tempfile.TemporaryDirectory[str]

    def post(self, body: bytes) -> Any:
        headers = {"Content-Type": "application/json", "Authorization": self.auth(self.url)}
        return self.client.post(self.url, data=body, headers=headers)


def build_app(model_dir: Path | None, onnx_threads: int = 1) -> InProcessApp:
    from bench.patients import SERVICE_ID
    from bench.service import Signer
    from cds_hooks import create_app
    from cds_hooks.settings import Settings

    signer = Signer()
    workdir = tempfile.TemporaryDirectory(prefix="derm3r-bench-app-")
    base = "http://derm3r-bench.invalid"
    settings = Settings(
        auth_enabled=True,
        trusted_issuers_file=signer.trust_file(Path(workdir.name) / "issuers.json"),
        public_base_url=base,
        data_dir=Path(workdir.name) / "var",
        model_dir=model_dir,
        onnx_threads=onnx_threads,
        request_deadline_seconds=60.0,
    )
    app = create_app(settings)
    return InProcessApp(client=app.test_client(), url=f"{base}/cds-services/{SERVICE_ID}", auth=signer.header,
                        workdir=workdir)


# (label, module suffix, function name): cumulative time of these functions per hook. Order is the
# order of the request; nested stages are indented in the label.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("JWT verify (incl. jti replay check)", "cds_hooks/auth.py", "verify"),
    ("  jti replay check (SQLite)", "cds_hooks/storage.py", "jti_seen"),
    ("read + parse JSON body", "cds_hooks/jsonbody.py", "read_json"),
    ("wire model (parse_request)", "cds_hooks/wire/request.py", "parse_request"),
    ("resolve prefetch", "cds_hooks/prefetch.py", "resolve"),
    ("build case (FHIR -> Case, base64)", "fhir_mapping/case_builder.py", "build_case"),
    ("pipeline.assess", "inference/pipeline.py", "assess"),
    ("  DERM-Rec read", "inference/rec.py", "read"),
    ("    decode (draft)", "inference/imaging.py", "decode_image"),
    ("    analysis array", "inference/attributes.py", "analysis_array"),
    ("    quality gate", "inference/quality.py", "assess_quality"),
    ("    model: views + onnxruntime (read_photos)", "inference/lesion_model.py", "read_photos"),
    ("      prepare views 224", "inference/lesion_model.py", "prepare_views"),
    ("    lesion segmentation (analyse)", "inference/attributes.py", "analyse"),
    ("    attribute scores", "inference/attributes.py", "score"),
    ("    morphology", "inference/morphology.py", "assess_morphology"),
    ("  DERM-Rep", "inference/rep.py", "represent"),
    ("  DERM-Reason", "inference/reason/agent.py", "assess"),
    ("respond (write-back, review, cards)", "cds_hooks/assessment_service.py", "respond"),
    ("  review store put", "cds_hooks/review/store.py", "put"),
    ("audit record", "cds_hooks/storage.py", "append_audit"),
    ("response JSON", "cds_hooks/wire/response.py", "to_json"),
)


def stage_profile(app: InProcessApp, make_body: Callable[[int], bytes], hooks: int) -> dict[str, Any]:
    """Mean ms per hook of each stage (cProfile cumulative time; profiling inflates Python-heavy
    stages, so read the shares, not the absolute numbers) and the unprofiled wall time."""
    for n in range(2):  # warm-up: first-call allocations in onnxruntime and numpy
        _check(app.post(make_body(-1 - n)))
    walls, cpus = [], []
    for n in range(hooks):
        body = make_body(n)
        started, cpu = time.perf_counter(), time.process_time()
        _check(app.post(body))
        walls.append((time.perf_counter() - started) * 1000.0)
        cpus.append((time.process_time() - cpu) * 1000.0)
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(hooks):
        _check(app.post(make_body(1000 + n)))
    profiler.disable()
    table = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total_profiled = 0.0
    rows = []
    for label, suffix, name in STAGES:
        # max, not sum: several functions may share a name in one file (nested to_json methods), and
        # the outermost one holds the others' time.
        cumulative = max(
            (entry[3] for (filename, _line, function), entry in table.items()
            if function == name and filename.replace("\\", "/").endswith(suffix)),
            default=0.0,
        )
        rows.append({"stage": label, "ms_per_hook": round(cumulative * 1000.0 / hooks, 2)})
    for (_f, _l, function), entry in table.items():
        if function == "full_dispatch_request":
            total_profiled = entry[3] * 1000.0 / hooks
    return {
        "hooks": hooks,
        "wall_p50_ms": round(statistics.median(walls), 1),
        "cpu_p50_ms": round(statistics.median(cpus), 1),
        "profiled_total_ms": round(total_profiled, 1),
        "stages": rows,
    }


def _check(response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"in-process hook answered HTTP {response.status_code}: {response.get_data(as_text=True)[:500]}")


@contextmanager
def opened_files() -> Iterator[list[str]]:
    """Paths passed to open() in this process (any thread) while the block runs (sys.addaudithook;
    an audit hook cannot be removed, so it stays installed but records only inside the block)."""
    recorded: list[str] = []
    _AUDIT.sinks.append(recorded)
    try:
        yield recorded
    finally:
        _AUDIT.sinks.remove(recorded)


class _Audit:
    def __init__(self) -> None:
        self.sinks: list[list[str]] = []
        self.lock = threading.Lock()
        self.installed = False

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "open" and self.sinks and args and isinstance(args[0], (str, bytes, Path)):
            path = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            for sink in self.sinks:
                sink.append(path)

    def install(self) -> None:
        with self.lock:
            if not self.installed:
                sys.addaudithook(self.hook)
                self.installed = True


_AUDIT = _Audit()


def files_per_hook(app: InProcessApp, body: bytes, repo: Path) -> dict[str, Any]:
    """Files under the repository (knowledge, models, schemas) opened while one hook is served after
    warm-up: an empty list verifies that knowledge and model files are parsed once per process."""
    _AUDIT.install()
    _check(app.post(body))
    with opened_files() as paths:
        _check(app.post(body))
    in_repo = sorted({p for p in paths if _under(p, repo) and not _under(p, repo / "bench")})
    data_dir = Path(app.workdir.name)
    return {
        "repo_files_opened_per_hook": [str(Path(p).relative_to(repo)) for p in in_repo],
        "data_dir_files_opened_per_hook": sorted({str(Path(p).relative_to(data_dir)) for p in paths if _under(p, data_dir)}),
    }


def _under(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2)
