"""Downloads are checked against a pinned sha256: a wrong file is deleted, never used. A stalled download stops (to
resume later), and one larger than its cap is refused."""

import hashlib
import http.server
import os
import time
from pathlib import Path

import pytest
from helpers import file_server

from unembed import download
from unembed.download import DownloadTooLarge, download_file
from unembed.errors import InputError, IntegrityError
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


class Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every GET as its path says: /trickle (a byte every 0.1 s), /silent (headers, then nothing), /endless
    (no Content-Length, no end), /huge (claims 20 GB). Each gives up after 20 s or when the client hangs up."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        length = {"/endless": None, "/huge": 20 * 10**9}.get(self.path, 10**6)
        self.send_response(200)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        started = time.monotonic()
        try:
            while time.monotonic() - started < 20:
                if self.path == "/trickle":
                    self.wfile.write(b"x")
                    time.sleep(0.1)
                elif self.path == "/silent":
                    time.sleep(0.1)
                else:
                    self.wfile.write(b"x" * 65536)
        except OSError:  # the client hung up
            pass


@pytest.fixture()
def hostile(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "STALL_SECONDS", 1.0)
    monkeypatch.setattr(download, "STALL_BYTES", 1000)
    with file_server(tmp_path, handler=Hostile) as url:
        yield url


@pytest.mark.parametrize(("path", "said"), [("/trickle", "less than 1,000 bytes came in 1 s"), ("/silent", "timed out")])
def test_a_stalled_download_stops_and_keeps_its_partial_to_resume(hostile, tmp_path, path, said):
    """A per-read timeout alone let a server that sends a byte at a time hold a download for ever."""
    target = tmp_path / "cache" / "file.bin"
    started = time.monotonic()
    with pytest.raises(OSError, match="load again to resume") as raised:
        download_file(hostile + path, target)
    assert said in str(raised.value) and time.monotonic() - started < 15
    assert not target.exists() and (path == "/silent" or target.with_name("file.bin.partial").stat().st_size > 0)


def test_an_endless_download_stops_at_its_cap_and_is_deleted(hostile, tmp_path):
    target = tmp_path / "cache" / "file.bin"
    with pytest.raises(DownloadTooLarge, match="sent more than the 1,048,576 bytes expected at most"):
        download_file(hostile + "/endless", target, max_bytes=2**20)
    assert not target.exists() and not target.with_name("file.bin.partial").exists()


def test_a_download_announced_past_its_cap_is_refused_before_a_byte_is_written(hostile, tmp_path):
    target = tmp_path / "cache" / "file.bin"
    with pytest.raises(DownloadTooLarge, match=r"20,000,000,000 bytes \(its Content-Length\), more than the 8,589,934,592"):
        download_file(hostile + "/huge", target)
    assert not target.exists() and not target.with_name("file.bin.partial").exists()
    # Through the caption sources, the same refusal is the usual "could not download" error with its fix.
    with pytest.raises(InputError, match="could not download"):
        _download(hostile + "/huge", target)


def test_the_hub_is_out_of_reach_where_its_host_takes_no_connection(monkeypatch):
    import socket

    from unembed.download import hub_out_of_reach

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        assert not hub_out_of_reach()
    assert hub_out_of_reach()  # the port is closed now
    monkeypatch.setenv("HF_ENDPOINT", "https://no-such-host.invalid")
    assert hub_out_of_reach()
    with socket.socket() as listening:  # reachable, but the user said offline
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{listening.getsockname()[1]}")
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        assert hub_out_of_reach()


def test_a_bank_naming_a_hub_model_out_of_reach_asks_only_the_cache(tmp_path, monkeypatch, capsys):
    """The probe: `bank search` of a bank whose manifest names st:someone/model spent 77 s in the hub library's
    retries before it failed; out of reach, only the cache is asked, and the message says so."""
    import json

    from unembed.cli import main
    from unembed.index import build_bank

    monkeypatch.setenv("HF_ENDPOINT", "https://no-such-host.invalid")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    folder = build_bank(texts=["a dog", "a cat"], space="minilm", out=tmp_path / "bank").path
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(dict(manifest, space="st:someone/model")))
    assert main(["bank", "search", str(folder), "--text", "a dog"]) == 2
    err = capsys.readouterr().err
    assert "could not load sentence-transformers model 'someone/model': the Hugging Face hub cannot be reached" in err
    assert "only the local cache was asked, and it is not there" in err and "Traceback" not in err
