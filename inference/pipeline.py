"""Recognise -> represent -> reason: the three agents wired together for one case.

Built once per process (the ONNX session and knowledge files are loaded in `build_pipeline`), then
called per request; deterministic for the same case."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from inference.case import Case
from inference.results import Assessment

if TYPE_CHECKING:
    from inference.reason import DermReason
    from inference.rec_cache import PhotoReader
    from inference.rep import DermRep


@dataclass(frozen=True)
class Pipeline:
    rec: "PhotoReader"  # DermRec behind a content-hash cache (inference.rec_cache) in production
    rep: "DermRep"
    reason: "DermReason"

    def assess(self, case: Case) -> Assessment:
        readings = self.rec.read(case.photos) if case.photos else ()
        representation = self.rep.represent(case, readings) if case.photos else None
        return self.reason.assess(case, representation)


def build_pipeline(model_dir: Path | None = None, knowledge_dir: Path | None = None, threads: int = 1,
                   guideline_profile: str | None = None) -> Pipeline:
    """Load the shipped lesion model and knowledge base once; `None` means the packaged defaults.

    DERM-Rec sits behind a bounded per-process cache keyed by SHA-256 of the photo bytes (+ model
    version + settings): an EHR re-sends a chart's photos on every view, and a repeat costs hashing
    instead of decode + gate + attributes + model (measured by `python -m bench.run`). Why that is safe
    is documented in `inference.rec_cache`. `guideline_profile` names the treatment profile of
    treatment.json ("aad_npf" default, "euroguiderm", "nice", "china"); an unknown name fails here, at start-up."""
    from inference.lesion_model import LesionModel
    from inference.reason import DermReason
    from inference.rec import DermRec
    from inference.rec_cache import CachingRec, RecCache
    from inference.rep import DermRep

    model = LesionModel.load(model_dir, threads=threads)
    rec = CachingRec(DermRec(model), RecCache())
    return Pipeline(rec=rec, rep=DermRep(), reason=DermReason.load(knowledge_dir, guideline_profile))
