"""Offline tooling for the lesion model shipped in `inference/models` (see its MODEL_CARD.md).

`train`, `export` and `quantize` need the training venv (torch; tools/lesion_model/requirements.txt);
`evaluate` and `latency` run in the runtime venv. Nothing here is imported by the service."""
