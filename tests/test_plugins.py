"""Plugins through the `unembed.plugins` entry-point group: a package registers without being imported by hand.

A plugin package here is a folder on a temporary sys.path entry beside a `.dist-info` whose entry_points.txt
declares it, which is all importlib.metadata reads: what pip writes when it installs a package.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import unembed
from unembed import registry
from unembed.evaluation import EVAL_SETS
from unembed.generators import GENERATORS
from unembed.index import SOURCES
from unembed.objectives import OBJECTIVES
from unembed.renderers import RENDERERS
from unembed.spaces import SPACES

REGISTRIES = (SPACES, GENERATORS, RENDERERS, OBJECTIVES, SOURCES, EVAL_SETS)

TOY_PLUGIN = '''
import numpy as np
from PIL import Image

import unembed
from unembed.generators import Proposal


class Letters(unembed.Space):
    modalities = ("text",)

    def __init__(self):
        self.spec, self.dim = "toy-letters", 26

    def _encode(self, modality, batch):
        rows = np.full((len(batch), 26), 1e-3, dtype=np.float32)
        for row, text in zip(rows, batch):
            for letter in text.lower():
                if "a" <= letter <= "z":
                    row[ord(letter) - ord("a")] += 1
        return rows


class Echo(unembed.Generator):
    spec = "toy-echo"

    def propose(self, requests):
        return [Proposal(texts=[text for _, text in request.candidates][: request.requested]) for request in requests]


class Blank(unembed.Renderer):
    spec = "toy-blank"

    def render(self, text, *, seed=0):
        return Image.new("RGB", (4, 4))


CALLS = []


def register():
    CALLS.append(1)
    unembed.register_space("toy-letters", lambda argument, **options: Letters())
    unembed.register_generator("toy-echo", lambda argument, **options: Echo())
    unembed.register_renderer("toy-blank", lambda argument, **options: Blank())
    unembed.register_source("toy-pets", lambda argument: ["a cat", "a dog", "a hamster"], modality="image")
    unembed.register_objective("toy-cosine", lambda argument, **options: unembed.load_objective("cosine", **options))
    # A name that is taken: the first registration stays.
    unembed.register_space("minilm", lambda argument, **options: Letters())
'''


def _install(root, distribution, entry_points, modules):
    """A package as pip leaves it: its modules on a sys.path entry, and a .dist-info declaring its entry points."""
    for name, source in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{distribution.replace('-', '_')}-1.0.dist-info"  # as pip names it: the stem up to '-' is the name
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[unembed.plugins]\n" + "".join(f"{name} = {value}\n" for name, value in entry_points.items()))


@pytest.fixture
def fresh_plugins(tmp_path, monkeypatch):
    """The registries as they are, restored afterwards, and the plugin group not yet loaded in this process."""
    for each in REGISTRIES:
        monkeypatch.setattr(each, "_entries", dict(each._entries))
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    monkeypatch.setattr(registry, "_plugin_failures", {})
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("toy_unembed_plugin", "toy_module_plugin", "toy_broken_plugin"):
        sys.modules.pop(name, None)


def test_a_plugin_package_loads_by_spec_string_without_an_import(fresh_plugins):
    _install(fresh_plugins, "toy-unembed-plugin", {"toy": "toy_unembed_plugin:register"}, {"toy_unembed_plugin": TOY_PLUGIN})
    assert "toy_unembed_plugin" not in sys.modules

    space = unembed.load_space("toy-letters")  # a name no registry knows yet: the registries load the group
    assert space.spec == "toy-letters" and "toy_unembed_plugin" in sys.modules
    assert unembed.load_generator("toy-echo").spec == "toy-echo"
    assert unembed.load_renderer("toy-blank").render("a cat").size == (4, 4)
    assert unembed.load_objective("toy-cosine", target=np.ones(3)).spec == "cosine"
    bank = unembed.build_bank(["toy-pets"], space)
    result = unembed.invert(space.embed_text(["a cat"])[0], space=space, bank=bank, generator="toy-echo", steps=1, progress=False)
    assert result.text == "a cat"
    # Once per process, whatever is asked afterwards; a plugin does not replace a name already taken.
    assert "toy-letters" in unembed.available_spaces() and "toy-pets" in SOURCES
    with pytest.raises(unembed.SpaceError, match="unknown space 'nothing-registers-this'"):
        unembed.load_space("nothing-registers-this")
    assert sys.modules["toy_unembed_plugin"].CALLS == [1]
    assert unembed.load_space("minilm").dim == 384


def test_an_entry_point_may_name_a_module_whose_register_is_called(fresh_plugins):
    module = TOY_PLUGIN.replace('"toy-letters"', '"toy-module-letters"')
    _install(fresh_plugins, "toy-module-plugin", {"toymod": "toy_module_plugin"}, {"toy_module_plugin": module})
    assert "toy-module-letters" in unembed.available_spaces()


def test_a_broken_plugin_is_reported_and_the_others_still_load(fresh_plugins, caplog):
    _install(fresh_plugins, "toy-broken-plugin", {"broken": "toy_broken_plugin:register"},
             {"toy_broken_plugin": "def register():\n    raise RuntimeError('needs a GPU it cannot find')\n"})
    _install(fresh_plugins, "toy-unembed-plugin", {"toy": "toy_unembed_plugin:register"}, {"toy_unembed_plugin": TOY_PLUGIN})
    with pytest.raises(unembed.SpaceError, match="Plugin 'broken' did not load \\(RuntimeError: needs a GPU it cannot find\\)"):
        unembed.load_space("a-space-of-the-broken-plugin")
    assert "plugin 'broken' (toy_broken_plugin:register) did not load" in caplog.text
    assert unembed.load_space("toy-letters").spec == "toy-letters"


def test_a_name_registered_by_hand_before_the_plugins_load_keeps_its_factory(fresh_plugins):
    unembed.register_space("toy-letters", lambda argument, **options: unembed.load_space("minilm"))
    _install(fresh_plugins, "toy-unembed-plugin", {"toy": "toy_unembed_plugin:register"}, {"toy_unembed_plugin": TOY_PLUGIN})
    assert "toy-echo" in unembed.available_generators()  # the plugin loaded
    assert unembed.load_space("toy-letters").spec == "minilm"


@pytest.mark.slow
def test_minibind_registers_through_its_entry_point_on_first_use():
    """A fresh process: `import unembed` does not import MiniBind; the first lookup of its names does."""
    code = textwrap.dedent("""
        import importlib.metadata, sys
        import unembed
        declared = [ep.value for ep in importlib.metadata.entry_points(group="unembed.plugins") if ep.name == "minibind"]
        print(declared, "unembed.minibind" in sys.modules)
        space = unembed.load_space("minibind")
        print(space.spec, space.modalities, "unembed.minibind" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["['unembed.minibind:register'] False", "minibind ('text', 'image', 'audio') True"]
