"""A local folder as a transport: the embedded default inbox and outbox."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipelines.transport.base import RemoteFile, is_temporary, matches


class LocalTransport:
    def __init__(self, root: Path):
        self.root = Path(root)

    def list(self, patterns: list[str]) -> list[RemoteFile]:
        if not self.root.exists():
            return []
        out = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            if rel.startswith("processed/") or not path.is_file() or is_temporary(rel):
                continue
            if matches(rel, patterns):
                st = path.stat()
                out.append(RemoteFile(name=rel, size=st.st_size, mtime=st.st_mtime))
        return sorted(out, key=lambda f: (f.mtime, f.name))

    def fetch(self, name: str, dest: Path) -> None:
        tmp = dest.with_name(dest.name + ".part")
        try:
            shutil.copyfile(self.root / name, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def put(self, src: Path, name: str) -> None:
        target = self.root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name("." + target.name + ".part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)

    def move(self, name: str, new_name: str) -> None:
        target = self.root / new_name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.root / name, target)

    def exists(self, name: str) -> bool:
        return (self.root / name).exists()

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalTransport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
