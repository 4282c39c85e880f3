"""Downloads are checked against a pinned sha256: a wrong file is deleted, never used."""

import hashlib
import os
from pathlib import Path

import pytest

from helpers import file_server
from unembed.download import download_file
from unembed.errors import IntegrityError
from unembed.index.sources import MILS_SHA256, _download
from unembed.integrity import sha256_file


@pytest.fixture()
def served(tmp_path):
    (tmp_path / "served").mkdir()
    with file_server(tmp_path / "served") as url:
        yield tmp_path / "served", url


def test_the_pinned_digests_are_those_of_the_mils_files_at_the_pinned_commit():
    folder = Path(os.environ["UNEMBED_MILS_DIR"])
    assert {name: sha256_file(folder / name) for name in MILS_SHA256} == MILS_SHA256


def test_a_download_with_the_pinned_digest_is_kept_and_another_is_deleted(served, tmp_path):
    folder, url = served
    payload = b"a dog on a beach\n" * 1000
    (folder / "captions.txt").write_bytes(payload)
    right = hashlib.sha256(payload).hexdigest()
    target = tmp_path / "cache" / "captions.txt"
    assert download_file(f"{url}/captions.txt", target, sha256=right).read_bytes() == payload

    other = tmp_path / "cache" / "other.txt"
    (folder / "other.txt").write_bytes(b"tampered\n" + payload)
    with pytest.raises(IntegrityError, match="not the pinned"):
        _download(f"{url}/other.txt", other, right)
    assert not other.exists() and not other.with_name("other.txt.partial").exists()
