"""The comparison itself: a changed region fails and keeps expected, actual and diff; a shade of
anti-aliasing within the tolerance passes; a picture of another size fails."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from frontend_tests.visual import compare

pytestmark = [pytest.mark.unit, pytest.mark.priority_p1]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def picture(size: tuple[int, int] = (200, 100)) -> Image.Image:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle((20, 20, 120, 60), fill=(30, 90, 200))
    return image


def test_the_same_picture_matches(tmp_path: Path) -> None:
    compare.check("same", png(picture()), update=True, baselines=tmp_path / "b", reports=tmp_path / "r")

    outcome = compare.check("same", png(picture()), update=False, baselines=tmp_path / "b", reports=tmp_path / "r")

    assert outcome.matched, outcome.message
    assert not (tmp_path / "r").exists()


def test_a_shade_within_the_tolerance_matches() -> None:
    shaded = picture()
    shaded.putpixel((20, 20), (40, 100, 210))  # a channel moved by 10: anti-aliasing, not a change

    assert compare.compare(picture(), shaded).differing == 0


def test_a_changed_region_fails_and_keeps_expected_actual_and_diff(tmp_path: Path) -> None:
    compare.check("changed", png(picture()), update=True, baselines=tmp_path / "b", reports=tmp_path / "r")
    changed = picture()
    ImageDraw.Draw(changed).rectangle((150, 70, 160, 80), fill="black")  # 121 pixels: 0.6% of 20,000

    outcome = compare.check("changed", png(changed), update=False, baselines=tmp_path / "b", reports=tmp_path / "r")

    assert not outcome.matched
    assert "121 of 20000 pixels differ" in outcome.message
    kept = tmp_path / "r" / "changed"
    assert sorted(path.name for path in kept.iterdir()) == ["actual.png", "diff.png", "expected.png"]
    diff = Image.open(kept / "diff.png").convert("RGB")
    assert diff.getpixel((155, 75)) == compare.DIFF_COLOUR
    assert diff.getpixel((5, 5)) != compare.DIFF_COLOUR


def test_a_picture_of_another_size_fails(tmp_path: Path) -> None:
    compare.check("size", png(picture()), update=True, baselines=tmp_path / "b", reports=tmp_path / "r")

    outcome = compare.check(
        "size", png(picture((200, 101))), update=False, baselines=tmp_path / "b", reports=tmp_path / "r"
    )

    assert not outcome.matched and "size" in outcome.message


def test_a_missing_baseline_fails_and_says_how_to_make_it(tmp_path: Path) -> None:
    outcome = compare.check("new", png(picture()), update=False, baselines=tmp_path / "b", reports=tmp_path / "r")

    assert not outcome.matched and "make visual-baselines" in outcome.message
