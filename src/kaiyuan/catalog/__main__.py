"""`python -m kaiyuan.catalog [FILE…]`: check data files against the schema and the
sourcing rule (all packaged files when none is named)."""

from __future__ import annotations

import sys
from pathlib import Path

from kaiyuan.catalog.schema import DeviceFile, FamilyFile
from kaiyuan.catalog.store import CatalogDataError, load, read_file


def main(argv: list[str]) -> int:
    try:
        if not argv:
            catalog = load()
            print(f"ok: {len(catalog.models)} models, {len(catalog.devices)} devices")
            return 0
        for name in argv:
            path = Path(name)
            schema = DeviceFile if path.name == "devices.toml" else FamilyFile
            parsed = read_file(path, schema)
            count = len(getattr(parsed, "models", getattr(parsed, "devices", ())))
            print(f"ok: {path.name} ({count} entries)")
    except CatalogDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
