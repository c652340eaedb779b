"""Browser settings for frontend_tests, read by frontend_tests/conftest.py.

Plain values only. pytest-playwright's own options win over them: `--headed`, `--slowmo`,
`--browser-channel`, `--base-url`, `--tracing`, `--screenshot`, `--video` and `--output`.
Playwright cannot download its own browsers here, so Debian's Chromium is used.
"""

import os

# The board under test. pytest-playwright's --base-url wins over it; unset (the default), the suite
# starts the live stack (platform and fakes on free loopback ports) and tests its platform. The shared
# `live_stack` fixture reuses SQUAD_BASE_URL too, so the browser and the tests' API calls agree.
BASE_URL = os.environ.get("SQUAD_BASE_URL") or None

# `apt-get install chromium` puts it here; CHROMIUM_PATH points elsewhere (e.g. another distribution).
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# Headless runs take Chromium's headless shell when it is installed (`apt-get install
# chromium-headless-shell`, built from the same sources as Debian's chromium): the browser engine
# without the browser around it, which is what Playwright itself runs headless. A new browser context
# with its page, which every flow test opens, costs it about a third of the CPU it costs the whole
# browser (0.3 s against 0.9 s on a 2-core machine); the pages and the visual baselines are the same.
# Headed runs, and any run with CHROMIUM_PATH set, take CHROMIUM_PATH; so do headless runs without it.
CHROMIUM_HEADLESS_SHELL_PATH = None if "CHROMIUM_PATH" in os.environ else "/usr/bin/chromium-headless-shell"

# Chromium in a container runs without its sandbox and GPU, and must not phone home or update itself
# in the middle of a test run.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

HEADLESS = True
SLOW_MO_MS = 0

# Wide enough for the board's five columns side by side.
VIEWPORT = {"width": 1440, "height": 900}
LOCALE = "en-US"

# Milliseconds. `expect` waits for what the board shows; the flow tests give the whole pipeline
# (sandbox, git, pull request) a longer deadline of their own.
TIMEOUTS_MS = {
    "action": 10_000,
    "navigation": 15_000,
    "expect": 10_000,
}

# Failure artifacts, relative to the repository root; one folder per xdist worker, one per test.
ARTIFACTS_DIR = "reports/playwright"
TRACING = "retain-on-failure"
# The traces above hold every action with its DOM snapshots, network and console. A screencast in
# them as well (pytest-playwright's default) costs about 0.4 s a test on this machine, in every test,
# for a picture the snapshots already give; the failure screenshot below is taken either way.
# `--tracing` on the command line keeps pytest-playwright's own traces, screencast included.
TRACE_SCREENCAST = False
SCREENSHOT = "only-on-failure"
VIDEO = "off"
