"""The documents stay true to the code: the one table of environment variables (docs/configuration.md)
against every variable the code reads, the make variables (docs/make.md) against the make files,
DEPLOYMENT.md's metrics, the README's size and sections, the links between the documents, the
repository paths they name, and no pointer to a document the repository does not hold."""

import re
import subprocess
from pathlib import Path

import pytest

from app.settings import Settings
from environment_tests.environment_files import MAKEFILES, REPO_ROOT
from environment_tests.variables_read import variables_read
from fixtures.targets import TARGETS

pytestmark = [pytest.mark.unit, pytest.mark.priority_p0]

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
MAKE_DOC = DOCS / "make.md"
README_MAX_BYTES = 12 * 1024
# The front door's sections, in this order.
README_SECTIONS = ["The two commands", "The four uses", "Layout", "How a task flows", "Read on"]
# What a reader runs, exactly as written (the two commands and the four uses).
README_COMMANDS = [
    "make suites",
    "make test",
    "pytest backend_tests",
    "pytest frontend_tests --headed",
    "locust -f load/",
    ".github/workflows/ci.yml",
]


def markdown_files() -> list[Path]:
    """Every document of the repository (not the packages' own READMEs under .venv and the like)."""
    tracked = subprocess.run(["git", "ls-files", "*.md"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    files = {REPO_ROOT / name for name in tracked.stdout.split()}
    files |= set(REPO_ROOT.glob("*.md")) | set(DOCS.glob("*.md"))  # new ones, before their first commit
    return sorted(path for path in files if path.exists())


def _table_rows(markdown: str, header: str) -> list[list[str]]:
    """The cells of each row of the table whose header line starts with `header`."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _names_in_first_column(rows: list[list[str]]) -> dict[str, list[str]]:
    """`NAME` of the first cell -> the row's cells."""
    found = {}
    for row in rows:
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0]):
            found[name] = row
    return found


def configuration_table() -> dict[str, list[str]]:
    return _names_in_first_column(_table_rows(CONFIGURATION.read_text(), "| variable | read by |"))


def make_variables() -> dict[str, str]:
    """The variables a user may give make (`NAME ?= default`) -> the make file that declares them."""
    found: dict[str, str] = {}
    for makefile in MAKEFILES:
        for name in re.findall(r"^([A-Z][A-Z0-9_]*)\s*\?=", makefile.read_text(), re.MULTILINE):
            found.setdefault(name, str(makefile.relative_to(REPO_ROOT)))
    return found


def test_the_configuration_table_has_every_variable_the_code_reads():
    read = variables_read()
    expected = {"SQUAD_BASE_URL", "TEST_DATABASE_URL", "LOAD_SOAK_MINUTES", "CHROMIUM_PATH", "FAKE_E2B_API_KEYS"}
    assert expected | {name.upper() for name in Settings.model_fields} <= set(read), (
        f"the scan of the code found too little, so it is broken: {sorted(read)}"
    )
    assert {service.variable for service in TARGETS} <= set(read), "the scan misses fixtures/targets.py's services"
    documented = configuration_table()
    missing = {name: where for name, where in read.items() if name not in documented}
    assert not missing, f"docs/configuration.md's table lacks (variable: read in) {missing}"


def test_the_configuration_table_names_only_variables_the_code_reads():
    stale = sorted(set(configuration_table()) - set(variables_read()))
    assert not stale, f"docs/configuration.md documents variables no code reads: {stale}"


def test_every_platform_setting_is_a_platform_row_of_the_configuration_table():
    table = configuration_table()
    not_platform = sorted(
        name for name in (field.upper() for field in Settings.model_fields) if "platform" not in table[name][1]
    )
    assert not not_platform, f"settings of app/settings.py whose row does not say `platform` read them: {not_platform}"


def test_the_make_variables_table_has_every_make_variable_and_no_other():
    documented = set(_names_in_first_column(_table_rows(MAKE_DOC.read_text(), "| variable | default |")))
    declared = make_variables()
    assert {"TIER", "WORKERS", "LOAD_ARGS", "BACKEND_SHARD"} <= set(declared), f"the `?=` scan found {declared}"
    missing = {name: where for name, where in declared.items() if name not in documented}
    assert not missing, f"docs/make.md's table lacks the make variables (variable: make file) {missing}"
    stale = sorted(documented - set(declared))
    assert not stale, f"docs/make.md documents make variables no make file declares: {stale}"


def test_the_deployment_guide_documents_every_metric():
    metrics_source = (REPO_ROOT / "app" / "metrics.py").read_text()
    names = set(re.findall(r"\"(squad_[a-z0-9_]+)\"", metrics_source))
    guide = (REPO_ROOT / "DEPLOYMENT.md").read_text()
    guide = guide[guide.index("\n## Metrics\n") :]
    missing = sorted(name for name in names if f"`{name}" not in guide)
    assert names and not missing, f"DEPLOYMENT.md's metrics lack {missing} (defined in app/metrics.py: {names})"


def test_the_readme_is_a_front_door_of_at_most_12_kb():
    size = len(README.read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move reference material to docs/"


def test_the_readme_has_its_sections_in_order():
    headings = re.findall(r"^## (.+)$", README.read_text(), re.MULTILINE)
    assert headings == README_SECTIONS, f"README.md's sections are {headings}, expected {README_SECTIONS}"


def test_the_readme_names_the_two_commands_and_the_four_uses():
    text = README.read_text()
    missing = [command for command in README_COMMANDS if f"`{command}" not in text and f"\n{command}" not in text]
    assert not missing, f"README.md does not show {missing}"


def test_the_readme_layout_has_one_line_per_top_level_folder():
    text = README.read_text()
    block = text[text.index("## Layout") :].split("```")[1]
    listed = {line.split()[0].split("/")[0] for line in block.strip().splitlines()}
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    folders = {name.split("/")[0] for name in tracked.stdout.split() if "/" in name} | {"docs"}
    assert folders <= listed, f"README.md's layout lacks {sorted(folders - listed)}"
    assert listed <= folders, f"README.md's layout names folders that do not exist: {sorted(listed - folders)}"


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return {_slug(heading) for heading in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


def test_every_link_between_the_documents_resolves():
    broken = []
    for document in markdown_files():
        text = re.sub(r"```.*?```", "", document.read_text(), flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path_part, _, anchor = target.partition("#")
            linked = (document.parent / path_part).resolve() if path_part else document
            where = f"{document.relative_to(REPO_ROOT)} -> {target}"
            if not linked.exists():
                broken.append(f"{where}: no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{where}: no such heading")
    assert not broken, "broken links:\n" + "\n".join(broken)


# A path in backticks that starts at a top-level folder of the repository, without placeholders.
REPOSITORY_PATH = re.compile(
    r"`((?:app|mocks|fixtures|tools|backend_tests|frontend_tests|load|environment_tests|reliability_tests"
    r"|benchmarks|make|docs|\.github)/[\w./-]*)(?:::[^`]*)?`"
)


def test_every_repository_path_the_documents_name_exists():
    missing = []
    for document in [*markdown_files(), *MAKEFILES]:
        for path in sorted(set(REPOSITORY_PATH.findall(document.read_text()))):
            if not (REPO_ROOT / path.rstrip("/")).exists():
                missing.append(f"{document.relative_to(REPO_ROOT)}: {path}")
    assert not missing, "paths that do not exist:\n" + "\n".join(missing)


# Pointers at documents a reader of the repository cannot see: a plan's number, an issue tracker
# that is not this repository's. Say the behaviour instead.
UNSEEN_REFERENCE = re.compile(r"seed 0\d\d|\bissue [0-9]|\(issue|\bissues? #\d", re.IGNORECASE)


def test_no_document_or_make_file_points_at_documents_outside_the_repository():
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in [*markdown_files(), *MAKEFILES]
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if UNSEEN_REFERENCE.search(line)
    ]
    assert not found, "references a reader cannot follow (say the behaviour instead):\n" + "\n".join(found)
