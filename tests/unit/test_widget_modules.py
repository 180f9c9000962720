"""The widget's pure modules (widget/src: calendar math, text and time formatting, checks,
theme contrast, .ics, hold countdown) under Node's own test runner: `node --test widget/test/`.
Node comes with the machine (Debian's nodejs otherwise); without it this is skipped, unless
SLOTPROOF_REQUIRE_BROWSER=1 (CI), which makes that a failure."""

import json
import os
import shutil
import subprocess

import pytest

from app.config import PROJECT_ROOT
from tests.support import normalise

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


WHEN_JS = """
import { fillIn, formatters } from './src/text.js';
const [table, instants] = JSON.parse(process.argv[1]);
const F = formatters(table.locale, table.dayPeriods); // as widget/src/i18n.js
console.log(JSON.stringify(instants.map(([ms, tz]) =>
  fillIn(table, 'dateAtTime', { date: F.date(ms, tz), time: F.time(ms, tz) }))));
"""


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_widget_writes_a_time_as_the_messages_do(lang):
    """One appointment, one way of writing it: the widget's date and time (from its string
    table's locale, as the frame formats them) read word for word as the patient's email and
    SMS write them — in Spanish '2:30 p. m.', never '14:30' — before the messages' zone."""
    from datetime import UTC, datetime

    from app.embed.assets import FILES
    from app.notifications.formats import human_when

    if NODE is None:
        pytest.skip("node is not installed")
    instants = [
        (datetime(2026, 12, 2, 19, 30, tzinfo=UTC), "America/New_York"),  # 2:30 p. m.
        (datetime(2026, 12, 2, 14, 45, tzinfo=UTC), "America/New_York"),  # 9:45 a. m.
        (datetime(2026, 12, 2, 17, 0, tzinfo=UTC), "America/New_York"),  # noon
        (datetime(2026, 12, 3, 5, 10, tzinfo=UTC), "America/New_York"),  # just after midnight
        (datetime(2027, 7, 4, 23, 5, tzinfo=UTC), "America/Los_Angeles"),  # summer time
    ]
    args = [FILES.strings()[lang], [[at.timestamp() * 1000, tz] for at, tz in instants]]
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", WHEN_JS, json.dumps(args)],
        cwd=PROJECT_ROOT / "widget",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shown = [normalise(s) for s in json.loads(done.stdout)]
    written = [human_when(at, tz, lang) for at, tz in instants]
    # the messages add the zone's abbreviation ('EST'); the widget names the zone apart
    assert shown == [w.rsplit(" ", 1)[0] for w in written]
    if lang == "es":
        assert shown[0] == "miércoles, 2 de diciembre de 2026 a las 2:30 p. m."
