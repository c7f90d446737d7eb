"""An in-process directory of demo users, for planner and applier tests only (end-to-end
tests read the directory over the Graph and LDAP peers' sockets)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from engine.adsync.demo import DemoDirectoryUser
from engine.adsync.model import CheckStep, DirectoryError, DirectoryUser


@dataclass
class ListDirectory:
    users_in_scope: list[DirectoryUser]
    failure: str | None = None
    reads: int = field(default=0)

    @classmethod
    def of_demo(cls, demo: Sequence[DemoDirectoryUser]) -> ListDirectory:
        return cls([entry.user for entry in demo if entry.in_scope])

    def users(self) -> Iterator[DirectoryUser]:
        self.reads += 1
        yield from self.users_in_scope[:1]
        if self.failure:
            raise DirectoryError(self.failure)
        yield from self.users_in_scope[1:]

    def check(self) -> Iterator[CheckStep]:
        yield CheckStep("Read", True, f"{len(self.users_in_scope)} users")

    def close(self) -> None:
        pass

    def __enter__(self) -> ListDirectory:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
