"""Screenshots against their baselines, pixel by pixel (Pillow).

A pixel differs when one of its channels differs by more than `channel_tolerance` (anti-aliasing
that moved a shade is not a change); a picture matches when at most `max_ratio` of its pixels differ
and its size is the baseline's. On a mismatch the expected, actual and diff pictures are kept under
reports/visual/<name>/: the diff is the actual picture faded to grey with every differing pixel red.
"""

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[2]
BASELINES = Path(__file__).resolve().parent / "baselines"
REPORTS = ROOT / "reports" / "visual"

CHANNEL_TOLERANCE = 16
MAX_RATIO = 0.001  # 0.1% of the pixels: a few glyphs' worth on a board, nothing of a layout shift
DIFF_COLOUR = (255, 0, 64)


@dataclass(frozen=True)
class Comparison:
    differing: int
    total: int
    size_matches: bool
    diff: Image.Image

    @property
    def ratio(self) -> float:
        return self.differing / self.total if self.total else 1.0

    def matches(self, max_ratio: float = MAX_RATIO) -> bool:
        return self.size_matches and self.ratio <= max_ratio


def compare(expected: Image.Image, actual: Image.Image, channel_tolerance: int = CHANNEL_TOLERANCE) -> Comparison:
    expected, actual = expected.convert("RGB"), actual.convert("RGB")
    total = actual.width * actual.height
    if expected.size != actual.size:
        # A picture of another size is a change in itself; the diff shows the actual one all red.
        return Comparison(total, total, False, Image.new("RGB", actual.size, DIFF_COLOUR))
    red, green, blue = ImageChops.difference(expected, actual).split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    mask = largest.point(lambda value: 255 if value > channel_tolerance else 0)
    differing = mask.histogram()[255]
    faded = Image.blend(actual.convert("L").convert("RGB"), Image.new("RGB", actual.size, "white"), 0.6)
    faded.paste(Image.new("RGB", actual.size, DIFF_COLOUR), mask=mask)
    return Comparison(differing, total, True, faded)


@dataclass(frozen=True)
class Outcome:
    matched: bool
    message: str


def check(
    name: str, actual_png: bytes, *, update: bool, baselines: Path = BASELINES, reports: Path = REPORTS
) -> Outcome:
    """Compare the screenshot `actual_png` with baselines/<name>.png, or (update) make it the baseline."""
    baseline = baselines / f"{name}.png"
    kept = reports / name
    if update:
        baselines.mkdir(parents=True, exist_ok=True)
        baseline.write_bytes(actual_png)
        return Outcome(True, f"baseline {baseline.name} written")
    actual = Image.open(io.BytesIO(actual_png))
    if not baseline.is_file():
        kept.mkdir(parents=True, exist_ok=True)
        actual.save(kept / "actual.png")
        return Outcome(False, f"no baseline {baseline}: run `make visual-baselines` (actual kept in {kept})")
    expected = Image.open(baseline)
    result = compare(expected, actual)
    if result.matches():
        return Outcome(True, f"{result.differing} of {result.total} pixels differ")
    kept.mkdir(parents=True, exist_ok=True)
    expected.save(kept / "expected.png")
    actual.save(kept / "actual.png")
    result.diff.save(kept / "diff.png")
    size = "" if result.size_matches else f" (size {actual.size}, baseline {expected.size})"
    return Outcome(
        False,
        f"{name}: {result.differing} of {result.total} pixels differ ({result.ratio:.3%}, at most {MAX_RATIO:.3%}"
        f" allowed){size}; expected, actual and diff are in {kept}. If the change is intended: make visual-baselines",
    )
