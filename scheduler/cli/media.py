"""`crosspost media adapt|specs`."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scheduler.cli._files import focus_point
from scheduler.cli._output import fail, print_json, print_table
from scheduler.errors import InvalidInput

if TYPE_CHECKING:
    from media import renditions as rendering


app = typer.Typer(help="Media adaptation: one file in, a rendition per channel out.", no_args_is_help=True)
CHANNELS = ("x", "linkedin", "tiktok", "youtube")


@app.command("adapt")
def adapt(
    files: Annotated[list[Path], typer.Argument(help="Image or video files")],
    out: Annotated[Path, typer.Option(help="Where to write the renditions")],
    channel: Annotated[str, typer.Option(help="x, linkedin, tiktok, youtube or all")] = "all",
    mode: Annotated[str, typer.Option(help="crop, pad or fit")] = "crop",
    focus: Annotated[
        str | None, typer.Option(help="Subject position X,Y in 0..1 (default: found automatically)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    sheet: Annotated[bool, typer.Option("--sheet", help="Also write a contact sheet PNG")] = False,
    trim: Annotated[bool, typer.Option("--trim", help="Cut videos longer than a channel allows")] = False,
    shorts: Annotated[
        bool,
        typer.Option(
            "--shorts/--no-shorts",
            help="YouTube: a vertical clip is rendered 9:16, whole, as a Short (--no-shorts: 16:9, "
            "like a channel with --option shorts=false)",
        ),
    ] = True,
) -> None:
    """Render each image or video for each channel.

    Exits non-zero when a file cannot be used (exit code 2, one line naming it) or when any
    rendition breaks its platform's rules (exit code 1, after printing every rendition: see the
    problems column, or "problems" in --json).
    """
    from media import renditions as rendering
    from media.renditions import MODES, contact_sheet, image_spec

    if mode not in MODES:
        raise InvalidInput(f"unknown mode {mode!r}; use {', '.join(MODES)}")
    channels = CHANNELS if channel == "all" else (channel,)
    for name in channels:
        image_spec(name)  # refuses an unknown channel before any work
    point = focus_point(focus) if focus is not None else None
    renditions = rendering.adapt_all(
        list(files), list(channels), out, mode=mode, focus=point, allow_trim=trim, shorts=shorts
    )
    if sheet:
        print(f"contact sheet: {contact_sheet(renditions, out / 'contact-sheet.png')}", file=sys.stderr)
    if as_json:
        print_json([rendition.as_dict() for rendition in renditions])
    else:
        _print_renditions(renditions)
    broken = [r for r in renditions if r.problems]
    if broken:
        listed = "; ".join(f"{Path(r.source).name} for {r.channel} ({r.kind}): {', '.join(r.problems)}" for r in broken)
        fail(f"{len(broken)} of {len(renditions)} renditions break their platform's rules: {listed}", code=1)


def _print_renditions(renditions: list[rendering.Rendition]) -> None:
    rows = [
        [
            Path(r.source).name,
            r.channel,
            r.kind,
            f"{r.width}x{r.height}",
            r.format,
            r.bytes,
            "; ".join(r.problems) or "ok",
            "; ".join(r.notes),
        ]
        for r in renditions
    ]
    print_table(["source", "channel", "kind", "size", "format", "bytes", "problems", "notes"], rows)


@app.command("specs")
def specs(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print what each platform accepts (the one table adapters and validation read)."""
    from media.specs import SPECS

    table = {name: asdict(spec) for name, spec in SPECS.items()}
    if as_json:
        print_json(table)
        return
    rows = []
    for name, spec in SPECS.items():
        for kind in ("image", "thumbnail", "video"):
            entry = getattr(spec, kind)
            if entry is None:
                continue
            frames = getattr(entry, "frames", None) or (entry.frame,)
            if getattr(entry, "vertical_frame", None) is not None:
                frames = (*frames, entry.vertical_frame)  # YouTube: vertical clips, as Shorts
            sizes = ", ".join(f"{frame.width}x{frame.height}" for frame in frames)
            formats = ",".join(getattr(entry, "inputs", ()) or entry.containers)
            rows.append([name, kind, formats, f"{entry.max_bytes / 1024 / 1024:g} MB", sizes])
        rows.append([name, "text", spec.text.counting.value, f"{spec.text.max_length} max", spec.text.field])
    print_table(["platform", "kind", "formats / counting", "limit", "renders at"], rows)
