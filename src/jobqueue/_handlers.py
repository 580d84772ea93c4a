"""From a handler to a `JobSpec`: its payload and result types, and the Taskiq task that runs it."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, get_type_hints

from pydantic import TypeAdapter

from jobqueue._inject import has_marker
from jobqueue._job_types import Defaults, JobSpec, JobType, result_adapter, validate_payload
from jobqueue.errors import InvalidOptionsError
from jobqueue.retry import RetryDelay

if TYPE_CHECKING:
    from taskiq import AsyncBroker

__all__ = ["build_spec", "runner", "signature_types"]


def signature_types(func: Callable[..., Any], skip_self: bool = False) -> tuple[Any, Any]:
    """A handler's payload type (its first parameter's annotation) and result type.

    The other parameters must be dependencies: each needs a default (a `Provide[...]` marker,
    usually) or a marker in `Annotated[...]`; anything else would only fail when the job runs.
    A missing annotation is `Any`.
    """
    target = inspect.unwrap(func)
    params = list(inspect.signature(target).parameters.values())
    if skip_self and params:
        params = params[1:]
    name = target.__qualname__
    if not params:
        raise InvalidOptionsError(f"{name} must take the payload as its first parameter")
    try:
        hints = get_type_hints(target, include_extras=True)
    except Exception as exc:
        raise InvalidOptionsError(
            f"cannot resolve the type hints of {name} ({exc}); define the payload model at module "
            "level, or annotate the payload as Any to accept any JSON"
        ) from None
    for param in params[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is param.empty and not has_marker(hints.get(param.name)):
            raise InvalidOptionsError(
                f"{name}: parameter {param.name!r} is not the payload and has no default; give it "
                "a dependency marker such as `= Provide[Container.x]`"
            )
    return hints.get(params[0].name, Any), hints.get("return", Any)


def build_spec(
    job_type: str | JobType[Any, Any],
    *,
    func: Callable[..., Awaitable[Any]] | None,
    provider: Any,
    types: tuple[Any, Any],
    defaults: Defaults,
    retry_delay: RetryDelay | None,
) -> JobSpec:
    """The spec of a handler; a `JobType`'s types and defaults count, and must agree."""
    payload_type, result_type = types
    name = str(job_type)
    if isinstance(job_type, JobType):
        name = job_type.name
        payload_type = job_type.payload_type
        if job_type.result_type is not Any:
            result_type = job_type.result_type
        defaults = defaults.over(job_type.defaults, name)
    return JobSpec(
        job_type=name,
        func=func,
        provider=provider,
        payload_type=payload_type,
        result_type=result_type,
        adapter=None if payload_type is Any else TypeAdapter(payload_type),
        result_adapter=result_adapter(result_type),
        retry_delay=retry_delay,
        **asdict(defaults),
    )


def runner(spec: JobSpec, broker: AsyncBroker) -> Callable[[Any], Awaitable[Any]]:
    """The Taskiq task of a job: validate the JSON payload, then run the handler.

    Its parameter is annotated `Any` so that Taskiq passes the JSON through untouched; an invalid
    payload raises `PayloadError`, which sends the job to dead (retrying cannot fix it). A
    class-based job asks the broker first for its provider: `attach_container` maps a provider
    declared on a container class to the attached container's own.
    """
    func = spec.func
    if func is None:
        overrides: dict[str, Any] = getattr(broker, "job_providers", {})

        async def run_handler(payload: Any) -> Any:
            handler = overrides.get(spec.job_type, spec.provider)()
            if inspect.isawaitable(handler):  # an async resource
                handler = await handler
            return await handler.handle(payload)

        func = run_handler

    async def run(payload: Any) -> Any:
        return await func(validate_payload(spec, spec.job_type, payload))

    run.__name__ = run.__qualname__ = f"job_{spec.job_type.replace(':', '_')}"
    if spec.func is not None:
        run.__module__ = inspect.unwrap(spec.func).__module__
    return run
