"""The configured strategy: a built-in by name or any class by import path (``strategy.name``), built with the
parameters of ``[strategy.params]``, validated against the class's own constructor.

``strategy.name`` is ``sma_crossover``, ``rsi_reversion`` (:data:`BUILT_IN`) or ``"package.module:ClassName"`` (the
module imported as Python imports it, the working directory first; e.g. ``mystrategies:Breakout`` for a
``mystrategies.py`` where papertrader runs). The class is called with the parameters as keyword arguments:

1. each parameter is checked against the constructor's signature, by its type annotation (pydantic's lax mode: a
   TOML ``20`` is a valid ``float``, ``"abc"`` no ``int``); an unknown or a missing one is refused by name;
2. the constructor checks what only it knows (``oversold`` below ``overbought``) and raises ``ValueError`` naming
   the parameter;
3. the object must implement :class:`~engine.core.strategy.Strategy`: an ``on_candle`` method and a whole number
   ``warmup`` ≥ 0.

Every problem is a :class:`StrategyError` whose message names the strategy and the parameter: one line.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from engine.core.rsi_reversion import RsiReversion
from engine.core.strategy import SmaCrossover, Strategy

BUILT_IN: dict[str, type] = {"sma_crossover": SmaCrossover, "rsi_reversion": RsiReversion}
"""The shipped strategies by ``strategy.name``."""


class StrategyError(ValueError):
    """A strategy that cannot be loaded or built; the message (one line) names it and, when one is to blame, the
    parameter."""


def strategy_class(name: str) -> type:
    """The class ``name`` stands for: a key of :data:`BUILT_IN` or ``"package.module:ClassName"``.

    Raises:
        StrategyError: neither form, a module that cannot be imported (or fails while importing), no such
            attribute, or not a class.
    """
    if name in BUILT_IN:
        return BUILT_IN[name]
    module_name, colon, class_name = name.partition(":")
    if not colon or not module_name or not class_name.isidentifier():
        raise StrategyError(
            f"{name!r} is neither a built-in strategy ({', '.join(BUILT_IN)}) nor an import path 'package.module:ClassName'"
        )
    if os.getcwd() not in sys.path:  # as ``python -m`` does, and as uvicorn does for its apps
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise StrategyError(f"{name}: cannot import {module_name!r} ({exc}); is it on the Python path?") from exc
    except Exception as exc:  # the module's own code failed: say what, in one line
        raise StrategyError(f"{name}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    found = getattr(module, class_name, None)
    if found is None:
        raise StrategyError(f"{name}: module {module_name!r} has no {class_name!r}")
    if not inspect.isclass(found):
        raise StrategyError(f"{name}: {class_name!r} is not a class")
    return found


def build_strategy(name: str, params: Mapping[str, Any]) -> Strategy:
    """The strategy ``name`` (see :func:`strategy_class`) built with ``params`` (steps in the module docstring).

    Raises:
        StrategyError: as :func:`strategy_class`; a parameter unknown, missing or of the wrong type; the constructor
            refused one (its ``ValueError`` or ``TypeError``) or failed; the object is not a Strategy.
    """
    cls = strategy_class(name)
    arguments = validated_params(name, cls, params)
    try:
        strategy = cls(**arguments)
    except (ValueError, TypeError) as exc:
        raise StrategyError(f"{name}: {exc}") from exc
    except Exception as exc:
        raise StrategyError(f"{name}: building it failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(strategy, Strategy):
        raise StrategyError(f"{name} does not implement the Strategy interface: it needs warmup and on_candle(candle)")
    warmup = strategy.warmup
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise StrategyError(f"{name}: warmup must be a whole number of candles >= 0, got {warmup!r}")
    return strategy


def validated_params(name: str, cls: type, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` checked against ``cls``'s constructor and converted to its annotated types, with the defaults of
    the parameters not given: what the strategy runs with.

    Raises:
        StrategyError: an unknown parameter (the known ones listed), a missing one, or one of the wrong type.
    """
    model = _parameters(name, cls)
    known = list(model.model_fields)
    unknown = sorted(set(params) - set(known))
    if unknown:
        takes = ", ".join(known) or "no parameters"
        raise StrategyError(f"{name}: unknown parameter {', '.join(map(repr, unknown))} (it takes {takes})")
    try:
        validated = model.model_validate(dict(params))
    except ValidationError as exc:
        error = exc.errors()[0]
        parameter = ".".join(str(part) for part in error["loc"])
        given = "" if error["type"] == "missing" else f" (given {error['input']!r})"
        raise StrategyError(f"{name}: parameter {parameter!r}: {error['msg']}{given}") from None
    return {field: getattr(validated, field) for field in known}


def _parameters(name: str, cls: type) -> type[BaseModel]:
    """A pydantic model of ``cls``'s keyword parameters: annotated types (``Any`` without one), defaults."""
    try:
        signature = inspect.signature(cls, eval_str=True)  # string annotations (``from __future__ import annotations``) resolved
    except (TypeError, ValueError, NameError) as exc:
        raise StrategyError(f"{name}: cannot read its constructor's parameters: {exc}") from exc
    fields: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        annotation = Any if parameter.annotation is inspect.Parameter.empty else parameter.annotation
        fields[parameter.name] = (annotation, default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    return create_model(f"{cls.__name__}Params", __config__=config, **fields)
