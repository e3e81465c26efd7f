"""gunicorn entry point used by the benchmark only: the production app with onnxruntime's CPU memory
arena switched off, to measure the peak RSS per worker that `enable_cpu_mem_arena = False` in
`inference/lesion_model.py` would give. The arena keeps the largest batch's activations (8 photos:
~55 MB) for the life of the worker; without it they are returned after each call."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import onnxruntime as ort

if TYPE_CHECKING:
    from flask import Flask

_app: "Flask | None" = None
_InferenceSession = ort.InferenceSession


class _SessionWithoutArena(_InferenceSession):  # type: ignore[misc, valid-type]
    def __init__(self, path: Any, sess_options: ort.SessionOptions | None = None, **kwargs: Any) -> None:
        options = sess_options if sess_options is not None else ort.SessionOptions()
        options.enable_cpu_mem_arena = False
        super().__init__(path, sess_options=options, **kwargs)


def __getattr__(name: str) -> Any:
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        from cds_hooks import create_app

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # Only for the session built by create_app below (LesionModel.load looks the class up on
        # the onnxruntime module at call time); this process serves nothing else.
        ort.InferenceSession = _SessionWithoutArena  # type: ignore[misc]
        try:
            _app = create_app()
        finally:
            ort.InferenceSession = _InferenceSession  # type: ignore[misc]
    return _app
