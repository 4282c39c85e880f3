import os
from pathlib import Path

import pytest

# MILS's caption files: the project's data folder beside the checkout (../shared/data/mils), given to
# unembed through its one documented lookup, $UNEMBED_MILS_DIR, so no test downloads them.
MILS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mils"
os.environ.setdefault("UNEMBED_MILS_DIR", str(MILS_DIR))


@pytest.fixture(scope="session")
def minilm():
    from unembed.spaces import load_space

    return load_space("minilm")


@pytest.fixture(scope="session")
def image_captions() -> list[str]:
    """The first 400 lines of MILS's image caption bank: real English captions."""
    lines = (Path(os.environ["UNEMBED_MILS_DIR"]) / "image_descriptions_per_class.txt").read_text(encoding="utf-8").splitlines()
    return lines[:400]
