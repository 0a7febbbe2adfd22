"""What a channel receives, as files: the one writer behind the dry-run outbox and the preview.

A folder holds ``request.json`` (the create call as the platform sees it, with the media files'
names, their alt texts and the adapter's notes), ``text.txt`` (the text as counted and escaped
for the platform) and the media as sent (``01-<name>``, ...). The dry-run adapter adds its
receipt; a preview writes the same files and nothing else, so the two compare byte for byte.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from scheduler.publishing.ports import Prepared


def write_request(prepared: Prepared, folder: Path) -> list[str]:
    """Write what ``prepared`` sends into ``folder`` (which exists); returns the media files' names."""
    media_names = []
    for index, item in enumerate(prepared.media, start=1):
        name = f"{index:02d}-{Path(item.name).name}"
        shutil.copyfile(item.source, folder / name)
        media_names.append(name)
    request = dict(prepared.request)
    request["media_files"] = media_names
    request["alt_texts"] = [item.alt_text for item in prepared.media]
    request["notes"] = list(prepared.notes)
    (folder / "request.json").write_text(json.dumps(request, indent=2, ensure_ascii=False) + "\n")
    (folder / "text.txt").write_text(prepared.text + "\n")
    return media_names
