"""Inputs are read from regular files only: a FIFO or a device given where a file is expected is refused at once,
whichever door it comes through, instead of blocking the command forever (or reading /dev/zero without end)."""

import os
import threading

import pytest

from unembed.arithmetic import file
from unembed.cli import main
from unembed.errors import InputError
from unembed.evaluation.references import read_references
from unembed.index.sources import read_captions, source_captions
from unembed.spaces.inputs import input_of, load_audio, load_image
from unembed.vectors import load_vectors

DOORS = {
    "vector": (load_vectors, "v.npy"),
    "captions": (read_captions, "captions.txt"),
    "caption source": (source_captions, "fifo"),  # bank build --from, eval-set captions:: said "neither a file nor a named source"
    "image": (load_image, "picture.png"),
    "audio": (load_audio, "sound.wav"),
    "input file": (input_of, "picture.png"),
    "references": (read_references, "references.jsonl"),
    "arithmetic term": (file, "term.npy"),
}


def outcome_within(seconds, call):
    """What `call()` raised, or 'blocked' when it has not returned within `seconds`."""
    result = []

    def run():
        try:
            call()
            result.append("returned")
        except Exception as error:  # the outcome is the test's to judge
            result.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return result[0] if result else "blocked"


@pytest.mark.parametrize("door", DOORS)
def test_a_fifo_is_refused_at_every_door(tmp_path, door):
    read, name = DOORS[door]
    fifo = tmp_path / name
    os.mkfifo(fifo)
    outcome = outcome_within(10, lambda: read(fifo))
    if outcome == "blocked":  # let the blocked reader go, so the test run can end
        with open(fifo, "wb"):
            pass
    assert isinstance(outcome, InputError) and "not a regular file" in str(outcome), outcome


def test_a_device_given_as_a_vector_is_refused(capsys):
    assert outcome_within(10, lambda: main(["invert", "--vector", "/dev/zero", "--space", "minilm"])) == "returned"
    assert "not a regular file" in capsys.readouterr().err
