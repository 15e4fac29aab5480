"""Result tables on a terminal show every value as written and colour alert levels."""
import io

from rich.console import Console

from logwarden.sinks import cli


def test_a_message_that_looks_like_markup_is_printed_as_written(monkeypatch):
    buf = io.StringIO()
    monkeypatch.setattr("rich.console.Console", lambda: Console(file=buf, force_terminal=True, width=120, color_system="standard"))
    # rich markup would raise on "[/x]" (a closing tag with nothing open) and style "[bold]"
    cli._table([["12:00", "high", "GET [/x] [bold]ok[/bold] done"]], ["time", "level", "message"], wrap="message")
    out = buf.getvalue()
    assert "GET [/x] [bold]ok[/bold] done" in out
    assert "\x1b[31mhigh" in out  # the level in its colour (red)
