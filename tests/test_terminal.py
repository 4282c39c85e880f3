"""What the `unembed` command prints cannot drive the terminal: control characters from outside are escaped, and a
closed pipe ends the command quietly."""

import subprocess
import sys

from unembed.cli import main
from unembed.cli.terminal import printable


def test_printable_escapes_controls_and_keeps_text():
    assert printable("a red\x1b[2J circle\x07") == "a red\\x1b[2J circle\\x07"
    assert printable("title\x1b]0;pwned\x07 \r over\x9b1m") == "title\\x1b]0;pwned\\x07 \\r over\\x9b1m"
    assert printable("two lines\n\tand a tab, café, 猫, ─") == "two lines\n\tand a tab, café, 猫, ─"
    # The probe: bidi overrides from a caption or an LLM answer reordered the line on screen.
    assert printable("a dog \u202eon the grass\u2066x\u2069") == "a dog \\u202eon the grass\\u2066x\\u2069"
    assert printable("שלום and عربي") == "שלום and عربي"  # right-to-left text itself is not a control


def test_captions_and_errors_from_outside_are_printed_escaped(tmp_path, capsys):
    captions = tmp_path / "captions.txt"
    captions.write_text("a dog on a beach\x1b[2J\nan engine running\x07\na cat on a sofa\n", encoding="utf-8")
    assert main(["bank", "build", "--from", str(captions), "--space", "minilm", "--out", str(tmp_path / "bank")]) == 0
    capsys.readouterr()
    assert main(["bank", "search", str(tmp_path / "bank"), "--text", "a dog", "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert "a dog on a beach\\x1b[2J" in out and "\x1b" not in out and "\x07" not in out
    assert main(["invert", "--vector", str(tmp_path / "no\x1b[2Jsuch.npy"), "--space", "minilm"]) == 2
    err = capsys.readouterr().err
    assert "no\\x1b[2Jsuch.npy" in err and "\x1b" not in err


def test_a_closed_pipe_ends_quietly(tmp_path):
    captions = tmp_path / "captions.txt"
    captions.write_text("".join(f"caption number {i}\n" for i in range(3000)), encoding="utf-8")
    script = (
        "import sys; from unembed.cli import main; "
        f"main(['bank', 'build', '--from', {str(captions)!r}, '--space', 'minilm', '--out', {str(tmp_path / 'bank')!r}])"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    search = [sys.executable, "-m", "unembed", "bank", "search", str(tmp_path / "bank"), "--text", "caption", "-k", "3000"]
    reader = subprocess.Popen(["head", "-n", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    finished = subprocess.run(search, stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=300)
    reader.stdin.close()
    reader.wait()
    assert "Traceback" not in finished.stderr and "BrokenPipe" not in finished.stderr, finished.stderr


def test_a_spec_with_control_characters_is_refused_before_a_library_prints_it(capsys):
    """The probe: `--space $'st:x\\x1b[2J\\x07'` reached the hub library, whose own warning printed the escape raw."""
    from unembed.cli import main

    assert main(["invert", "--text", "a dog", "--space", "st:x\x1b[2J\x07"]) == 2
    err = capsys.readouterr().err
    assert "holds control characters" in err and "\x1b" not in err and "\x07" not in err
