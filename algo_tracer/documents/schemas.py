"""The JSON schemas of what algo-tracer writes to disk.

    python -m algo_tracer.documents.schemas DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from algo_tracer.documents.datasheet import Datasheet
from algo_tracer.documents.manifest import Manifest
from algo_tracer.documents.model_card import ModelCard

SCHEMAS: dict[str, type[BaseModel]] = {
    "manifest": Manifest, "model-card": ModelCard, "datasheet": Datasheet,
}


def write_schemas(directory: Path) -> list[Path]:
    written = []
    for name, model in SCHEMAS.items():
        path = Path(directory) / f"{name}.schema.json"
        path.write_text(json.dumps(model.model_json_schema(), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")):
        print(path)
