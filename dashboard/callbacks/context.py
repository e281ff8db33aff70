"""What every callback needs to know about the app: where its maps are. Immutable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dashboard.maps import MAPS, LoadedMap, MapEntry, list_maps, resolve_map


@dataclass(frozen=True)
class AppContext:
    """The maps an app serves: the subfolders of ``maps_root`` plus ``start_map``.

    ``start_map`` (the map opened first) may live outside ``maps_root``.
    """

    maps_root: Path | None
    start_map: Path | None
    #: Results folder of the Compare view; None: ``ServerSettings.compare_dir``, else the committed results.
    compare_dir: Path | None = None

    def entries(self) -> list[MapEntry]:
        return list_maps(self.maps_root, extra=self.start_map)

    def default_name(self, entries: list[MapEntry]) -> str | None:
        if self.start_map is not None:
            for entry in entries:
                if entry.path.resolve() == Path(self.start_map).resolve():
                    return entry.name
        return entries[0].name if entries else None

    def load(self, name: object) -> LoadedMap:
        """The loaded map called ``name`` (one of the listed maps; MapChoiceError otherwise)."""
        return MAPS.get(resolve_map(self.entries(), name))
