#!/usr/bin/env python3
"""A terminal's screen as an SVG picture: reads what `tmux capture-pane -p -e`
printed (text with SGR colour escapes) on stdin, writes the SVG on stdout.
Knows the escapes lambda-rollout writes: reset, bold, dim, and the eight
foreground colours. Usage: terminal-svg.py TITLE < capture > picture.svg"""
import html
import re
import sys

COLOURS = {30: "#3b3b3b", 31: "#e06c75", 32: "#98c379", 33: "#e5c07b",
           34: "#61afef", 35: "#c678dd", 36: "#56b6c2", 37: "#dcdfe4"}
FG, BG, CELL_W, CELL_H, PAD = "#dcdfe4", "#1e2127", 8.4, 18, 14
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def spans(line):
    """(text, style) pieces of one line."""
    style = {"fg": None, "bold": False, "dim": False}
    pos, out = 0, []
    for m in SGR.finditer(line):
        if m.start() > pos:
            out.append((line[pos:m.start()], dict(style)))
        for code in [int(c) for c in (m.group(1) or "0").split(";") if c]:
            if code == 0:
                style = {"fg": None, "bold": False, "dim": False}
            elif code == 1:
                style["bold"] = True
            elif code == 2:
                style["dim"] = True
            elif code == 22:
                style["bold"] = style["dim"] = False
            elif code in COLOURS:
                style["fg"] = COLOURS[code]
            elif code == 39:
                style["fg"] = None
        pos = m.end()
    if pos < len(line):
        out.append((line[pos:], dict(style)))
    return out


def main():
    title = sys.argv[1] if len(sys.argv) > 1 else "terminal"
    lines = sys.stdin.read().rstrip("\n").split("\n")
    while lines and not SGR.sub("", lines[-1]).strip():
        lines.pop()
    cols = max((len(SGR.sub("", l)) for l in lines), default=40)
    width = int(cols * CELL_W + 2 * PAD)
    top = 30
    height = int(top + len(lines) * CELL_H + PAD)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<rect width="{width}" height="{height}" rx="6" fill="{BG}"/>',
        '<circle cx="16" cy="14" r="5" fill="#e06c75"/><circle cx="32" cy="14" r="5" '
        'fill="#e5c07b"/><circle cx="48" cy="14" r="5" fill="#98c379"/>',
        f'<text x="{width / 2}" y="18" fill="#8b929e" font-family="sans-serif" '
        f'font-size="12" text-anchor="middle">{html.escape(title)}</text>',
        '<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14" '
        'xml:space="preserve">',
    ]
    for i, line in enumerate(lines):
        y = top + (i + 1) * CELL_H - 4
        plain = SGR.sub("", line)
        # One <text> per row, its tspans back to back: under xml:space
        # "preserve" any whitespace between them would show as spaces.
        row = f'<text x="{PAD}" y="{y}"'
        if plain:
            row += f' textLength="{len(plain) * CELL_W:.1f}" lengthAdjust="spacingAndGlyphs"'
        row += ">"
        for text, s in spans(line):
            attrs = [f'fill="{s["fg"] or FG}"']
            if s["bold"]:
                attrs.append('font-weight="bold"')
            if s["dim"]:
                attrs.append('fill-opacity="0.6"')
            row += f'<tspan {" ".join(attrs)}>{html.escape(text)}</tspan>'
        out.append(row + "</text>")
    out.append("</g></svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
