"""Small charts drawn as inline SVG on the server: no script, no external library, readable in print.

Every label is escaped by the template engine (the SVG is built with Markup.format).
"""

from __future__ import annotations

from markupsafe import Markup

from studio.outcomes import OfferComparison, PolicyOutcome

__all__ = ["keep_rate_chart", "outcome_bars"]

COLOURS = {"resolved": "#1d7a46", "handed_off": "#d9822b", "waiting": "#8fb0ec"}
WIDTH = 640
ROW = 26
LABEL = 230


def _svg_open(label: str, height: int) -> Markup:
    return Markup(
        '<svg class="chart" role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}">'
    ).format(label, WIDTH, height, WIDTH, height)


def outcome_bars(rows: list[PolicyOutcome]) -> Markup:
    """One horizontal bar per policy and mode: resolved, handed off, waiting, to scale."""
    if not rows:
        return Markup("")
    most = max(r.tickets for r in rows) or 1
    scale = (WIDTH - LABEL - 60) / most
    parts = [_svg_open("Tickets per policy by outcome", ROW * len(rows) + 30)]
    for index, row in enumerate(rows):
        y = index * ROW + 4
        name = row.policy if row.mode in ("live", "-") else f"{row.policy} ({row.mode})"
        parts.append(Markup('<text x="0" y="{}" font-size="12">{}</text>').format(y + 14, name[:34]))
        x = float(LABEL)
        for status, count in (
            ("resolved", row.resolved),
            ("handed_off", row.handed_off),
            ("waiting", row.waiting),
        ):
            if count:
                parts.append(
                    Markup(
                        '<rect x="{:.1f}" y="{}" width="{:.1f}" height="18" fill="{}">'
                        "<title>{}: {}</title></rect>"
                    ).format(x, y, count * scale, COLOURS[status], status.replace("_", " "), count)
                )
                x += count * scale
        parts.append(
            Markup('<text x="{:.1f}" y="{}" font-size="12">{}</text>').format(x + 6, y + 14, row.tickets)
        )
    legend_y = ROW * len(rows) + 22
    for offset, status in enumerate(COLOURS):
        lx = LABEL + offset * 120
        parts.append(
            Markup(
                '<rect x="{}" y="{}" width="12" height="12" fill="{}"/>'
                '<text x="{}" y="{}" font-size="12">{}</text>'
            ).format(lx, legend_y - 10, COLOURS[status], lx + 16, legend_y, status.replace("_", " "))
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def keep_rate_chart(comparison: OfferComparison) -> Markup:
    """Keep rate per variant with its 95% interval as a whisker, on a 0-100% axis."""
    rows = [r for r in comparison.rows if r.decided]
    if not rows:
        return Markup("")
    axis = WIDTH - LABEL - 40
    parts = [_svg_open("Keep rate per variant", ROW * len(rows) + 24)]
    for index, row in enumerate(rows):
        y = index * ROW + 4
        low, high = comparison.interval(row)
        rate = row.keep_rate or 0.0
        parts.append(
            Markup('<text x="0" y="{}" font-size="12">variant {} ({} decided)</text>').format(
                y + 14, row.variant, row.decided
            )
        )
        parts.append(
            Markup(
                '<rect x="{}" y="{}" width="{:.1f}" height="18" fill="#2456c7" opacity="0.75">'
                "<title>keep rate {:.0%}</title></rect>"
            ).format(LABEL, y, rate * axis, rate)
        )
        parts.append(
            Markup(
                '<line x1="{:.1f}" x2="{:.1f}" y1="{}" y2="{}" stroke="#1d2330" stroke-width="2"/>'
            ).format(LABEL + low * axis, LABEL + high * axis, y + 9, y + 9)
        )
        parts.append(
            Markup('<text x="{:.1f}" y="{}" font-size="12">{:.0%}</text>').format(
                LABEL + high * axis + 6, y + 14, rate
            )
        )
    axis_y = ROW * len(rows) + 18
    for tick in (0, 0.5, 1):
        parts.append(
            Markup('<text x="{:.1f}" y="{}" font-size="11" fill="#5d6677">{:.0%}</text>').format(
                LABEL + tick * axis - 8, axis_y, tick
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
