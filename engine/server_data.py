"""Data a server sent that lacks what msext reads from it is that server's error, named as
such: a null record or a missing field must never reach the administrator as "internal
error: 'NoneType' object has no attribute 'get'"."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

DATA_FAULTS = (KeyError, TypeError, AttributeError, ValueError, IndexError)
"""What reading a value of the wrong shape raises in our parsers."""

Function = TypeVar("Function", bound=Callable[..., Any])


def reads_server_data(
    source: str, error: Callable[[str], Exception]
) -> Callable[[Function], Function]:
    """Turn a shape fault while ``function`` reads ``source``'s answers into ``error``, with
    a message naming the source, the step and the fault (the traceback stays in the log)."""

    def decorate(function: Function) -> Function:
        def explain(fault: Exception) -> Exception:
            return error(
                f"{source} answered data msext cannot read ({function.__name__}:"
                f" {type(fault).__name__}: {fault})"
            )

        if inspect.isgeneratorfunction(function):

            @functools.wraps(function)
            def generator(*args: Any, **kwargs: Any) -> Any:
                try:
                    return (yield from function(*args, **kwargs))
                except DATA_FAULTS as fault:
                    raise explain(fault) from fault

            return generator  # type: ignore[return-value]

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return function(*args, **kwargs)
            except DATA_FAULTS as fault:
                raise explain(fault) from fault

        return call  # type: ignore[return-value]

    return decorate
