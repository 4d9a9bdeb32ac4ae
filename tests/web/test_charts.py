"""The SVG chart builders (pure): scales, marks, escaping, empty data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from buildcensus.web._charts import Series, bar_chart, column_chart, fmt, nice_ticks


@pytest.mark.parametrize(
    ("top", "ticks"),
    [
        (0, [0.0, 1.0]),
        (1, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (7, [0.0, 2.0, 4.0, 6.0, 8.0]),
        (43, [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]),
        (100, [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
        (2632, [0.0, 1000.0, 2000.0, 3000.0]),
    ],
)
def test_nice_ticks(top: float, ticks: list[float]) -> None:
    assert nice_ticks(top) == ticks


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (3, "3"), (2.0, "2"), (1234567, "1,234,567"), (0.12345, "0.123")],
)
def test_fmt(value, text: str) -> None:
    assert fmt(value) == text


def _marks(svg: str) -> list[dict[str, str]]:
    root = ET.fromstring(svg)
    return [e.attrib for e in root.iter("rect") if e.get("class") == "mark"]


def test_column_chart_stacks_series_and_is_well_formed_xml() -> None:
    svg = column_chart(
        ["2026-11-01", "2026-11-02", "2026-11-03"],
        [Series("ok", [3, 0, 5]), Series("failed", [1, 2, None])],
        "Builds per day",
    )
    marks = _marks(svg)
    # zero and missing values draw nothing
    assert [(m["data-series"], m["data-label"], m["data-value"]) for m in marks] == [
        ("ok", "2026-11-01", "3"),
        ("failed", "2026-11-01", "1"),
        ("failed", "2026-11-02", "2"),
        ("ok", "2026-11-03", "5"),
    ]
    first_ok, first_failed = marks[0], marks[1]
    # stacked: the failed segment sits on top of the ok segment
    assert float(first_failed["y"]) + float(first_failed["height"]) == pytest.approx(
        float(first_ok["y"]), abs=0.02
    )
    assert "xmlns" not in svg and "http" not in svg


def test_bar_chart_heights_are_proportional_and_labels_escaped() -> None:
    svg = bar_chart(["<script>x</script>", "b & c"], [Series("projects", [10, 5])], "T <&>")
    marks = _marks(svg)
    assert [m["data-label"] for m in marks] == ["<script>x</script>", "b & c"]
    assert float(marks[0]["width"]) == pytest.approx(2 * float(marks[1]["width"]), rel=0.01)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_empty_chart_has_no_marks() -> None:
    for svg in (column_chart([], [], "nothing"), bar_chart(["a"], [Series("p", [0])], "zero")):
        assert _marks(svg) == []
        assert "no data in this window" in svg
        assert re.match(r'^<svg class="chart"', svg)
