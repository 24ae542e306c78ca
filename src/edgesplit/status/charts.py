"""Small inline SVG charts: no script, no external assets, readable without colour alone
(every mark has a text label or a title)."""

from __future__ import annotations

from html import escape

__all__ = ["PALETTE", "bar_chart", "colour", "format_number", "line_chart", "split_bar"]

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def format_number(value: float | None) -> str:
    """Whole numbers with thousands separators, others to four significant digits."""
    if value is None:
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:.4g}"


def bar_chart(items: list[tuple[str, float]], *, title: str, width: int = 420, bar: int = 18) -> str:
    """Horizontal bars, one per ``(label, value)``, lengths proportional to the values."""
    label_width, value_width = 110, 80
    span = width - label_width - value_width
    top = max((value for _, value in items), default=0.0) or 1.0
    height = len(items) * (bar + 8) + 8
    parts = [
        f'<svg class="chart bars" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(items):
        y = 8 + i * (bar + 8)
        length = round(span * value / top, 2)
        text = format_number(value)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar * 0.75}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length}" height="{bar}" fill="{colour(i)}" '
            f'data-label="{escape(label)}" data-value="{value}"><title>{escape(label)}: {text}</title></rect>'
            f'<text x="{label_width + length + 6}" y="{y + bar * 0.75}">{text}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def split_bar(items: list[tuple[str, float]], *, title: str, width: int = 420, height: int = 22) -> str:
    """One bar split by shares (weights that sum to 1)."""
    total = sum(value for _, value in items) or 1.0
    parts = [
        f'<svg class="chart split" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    x = 0.0
    for i, (label, value) in enumerate(items):
        share = value / total
        w = width * share
        parts.append(
            f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{height}" fill="{colour(i)}">'
            f"<title>{escape(label)}: {share:.1%}</title></rect>"
        )
        if w > 40:
            parts.append(
                f'<text x="{x + 4:.2f}" y="{height * 0.7:.1f}" fill="#fff">{escape(label)} {share:.0%}</text>'
            )
        x += w
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: list[tuple[str, list[float]]],
    *,
    title: str,
    x_labels: tuple[str, str],
    width: int = 420,
    height: int = 120,
) -> str:
    """One polyline per ``(label, values)``, all on one y scale from zero."""
    pad_left, pad_bottom, pad_top = 44, 18, 6
    plot_w, plot_h = width - pad_left - 4, height - pad_bottom - pad_top
    top = max((max(values, default=0.0) for _, values in series), default=0.0) or 1.0
    parts = [
        f'<svg class="chart lines" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{pad_left + plot_w}" '
        f'y2="{pad_top + plot_h}" stroke="#999"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 10}" text-anchor="end">{format_number(top)}</text>',
        f'<text x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end">0</text>',
        f'<text x="{pad_left}" y="{height - 4}">{escape(x_labels[0])}</text>',
        f'<text x="{pad_left + plot_w}" y="{height - 4}" text-anchor="end">{escape(x_labels[1])}</text>',
    ]
    for i, (label, values) in enumerate(series):
        if not values:
            continue
        step = plot_w / max(len(values) - 1, 1)
        points = " ".join(
            f"{pad_left + j * step:.1f},{pad_top + plot_h - plot_h * value / top:.1f}"
            for j, value in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour(i)}" stroke-width="2">'
            f"<title>{escape(label)}</title></polyline>"
        )
    parts.append("</svg>")
    return "".join(parts)
