"""A customer's balance of one asset over time, as an SVG drawn by pygal on the server.

The points are the balances right after each movement (`balance_after`, exact integers of
minor units); pygal only places them, and every label is formatted from minor units with
the asset's scale, so no amount is shown through float. pygal's default links a tooltip
script from a CDN: `js=[]` leaves it out, and the page shows the chart as an <img> served
with a policy that runs no script at all (its inline config block stays inert).
"""
from __future__ import annotations

from datetime import datetime, timezone

from ..ledger.money import format_amount

MAX_POINTS = 200


def balance_chart_svg(movements: list, asset: str, scale: int) -> str:
    """`movements`: the asset's movement rows, newest first (as `LedgerService.movements`)."""
    # pygal is imported here, when a chart is drawn: no other request loads it.
    import pygal
    from pygal.style import CleanStyle

    points = [(datetime.fromtimestamp(r["created_at_ms"] / 1000, tz=timezone.utc), r["balance_after"])
              for r in reversed(movements[:MAX_POINTS])]
    chart = pygal.DateTimeLine(
        js=[], disable_xml_declaration=True, width=720, height=300, show_legend=False, style=CleanStyle,
        x_label_rotation=20, dots_size=3, truncate_label=-1, title=f"{asset} balance",
        x_value_formatter=lambda t: t.strftime("%Y-%m-%d %H:%M"),
        value_formatter=lambda minor: format_amount(round(minor), scale),
        no_data_text="No movements yet")
    chart.add(asset, points)
    return chart.render(is_unicode=True)
