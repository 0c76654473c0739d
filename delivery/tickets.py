"""The kitchen ticket as text: what the print layout shows, for receipt printers.

ESC/POS is the command set of most thermal receipt printers (Epson's; the commands used here,
ESC @ initialise, ESC E bold, GS ! size, GS V cut, are in Epson's public ESC/POS reference).
Chinese text goes out in GB18030, the encoding Chinese-market printers take in their default
Chinese mode (FS &).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from delivery.models import Order

WIDTH = 32  # characters on a 58 mm roll

ESC_INIT = b"\x1b@"
CHINESE_ON = b"\x1c&"
BOLD_ON, BOLD_OFF = b"\x1bE\x01", b"\x1bE\x00"
DOUBLE_ON, DOUBLE_OFF = b"\x1d!\x11", b"\x1d!\x00"
CUT = b"\x1dV\x42\x00"  # feed and partial cut


def _pickup(order: Order) -> str:
    if order.accepted_at is None or order.prep_minutes is None:
        return "-"
    return timezone.localtime(order.accepted_at + timedelta(minutes=order.prep_minutes)).strftime("%H:%M")


def ticket_lines(order: Order) -> list[str]:
    """The ticket, one printed line per entry: number, pickup time, items with options and
    allergens, notes."""
    out = [
        f"#{order.number[-4:]}  {order.number}",
        f"取餐 Pickup {_pickup(order)}",
        f"下单 Placed {timezone.localtime(order.placed_at):%m-%d %H:%M}",
        "-" * WIDTH,
    ]
    for line in order.lines.all():
        out.append(f"{line.quantity} x {line.name_zh}" + (f" / {line.name_en}" if line.name_en else ""))
        out.extend(f"   + {o.get('option_zh', '')}" for o in line.options)
        out.extend(f"   - {c.get('name_zh', '')} x{c.get('quantity', 1)}" for c in line.components)
        if line.allergens:
            out.append(f"   ! 过敏原 Allergens: {', '.join(line.allergens)}")
        if line.note:
            out.append(f"   * {line.note}")
    out.append("-" * WIDTH)
    if order.note:
        out.append(f"备注 Note: {order.note}")
    return out


def ticket_text(order: Order) -> str:
    return "\n".join(ticket_lines(order)) + "\n"


def ticket_escpos(order: Order) -> bytes:
    """The ticket as ESC/POS bytes: the order's short number large and bold, then the lines."""
    lines = ticket_lines(order)
    body = b"".join(line.encode("gb18030", errors="replace") + b"\n" for line in lines[1:])
    head = DOUBLE_ON + BOLD_ON + lines[0].encode("gb18030") + b"\n" + BOLD_OFF + DOUBLE_OFF
    return ESC_INIT + CHINESE_ON + head + body + b"\n\n" + CUT
