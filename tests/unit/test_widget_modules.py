"""The widget's pure modules (widget/src: calendar math, text and time formatting, checks,
theme contrast, .ics, hold countdown) under Node's own test runner: `node --test widget/test/`.
Node comes with the machine (Debian's nodejs otherwise); without it this is skipped, unless
SLOTPROOF_REQUIRE_BROWSER=1 (CI), which makes that a failure."""

import os
import shutil
import subprocess

import pytest

from app.config import PROJECT_ROOT

NODE = shutil.which("node")


def test_widget_pure_modules_pass_node_test():
    if NODE is None:
        if os.environ.get("SLOTPROOF_REQUIRE_BROWSER") == "1":
            pytest.fail("node is required (apt-get install nodejs)")
        pytest.skip("node is not installed")
    done = subprocess.run(
        [NODE, "--test", "test/"],
        cwd=PROJECT_ROOT / "widget",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass " in done.stdout


def test_served_loader_and_bundle_are_valid_javascript(tmp_path):
    """The serve-time steps (the loader squeezed, the modules bundled into app.js) give
    scripts Node can parse."""
    from app.embed.assets import FILES

    if NODE is None:
        pytest.skip("node is not installed")
    for name, asset in (("loader.js", FILES.loader()), ("app.js", FILES.bundle())):
        path = tmp_path / name
        path.write_bytes(asset.body)
        done = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, (name, done.stderr[-2000:])


def test_the_bundler_keeps_each_module_in_its_own_scope():
    from app.embed.assets import bundle_modules

    out = bundle_modules(
        {
            "main.js": (
                "import { a, b as c } from './lib/x.js';\nimport './y.js';\nconst k = a + c;\n"
            ),
            "lib/x.js": "const k = 1;\nexport const a = k;\nexport function b() {}\n",
            "y.js": "export class Y {}\n",
        },
        "main.js",
    )
    assert out.index("const $lib_x = ") < out.index("const $main = ")
    assert "const { a, b: c } = $lib_x;" in out and "return { a, b };" in out
    for bad, message in (
        ({"main.js": "import x from './y.js';\n"}, "does not know"),
        ({"main.js": "import { a } from './y.js';\n", "y.js": "import './main.js';\n"}, "cycle"),
        ({"main.js": "", "z.js": ""}, "never imports"),
        ({"main.js": "import './../up.js';\n"}, "outside"),
    ):
        with pytest.raises(ValueError, match=message):
            bundle_modules(bad, "main.js")
