"""Backward formulas stay inside the rules that let them run on arrays *and* on Tensors.

An op whose class sets ``_twice = True`` promises that its ``backward`` is written with the array
namespace ``xp`` and Python's operators only, so ``create_graph=True`` can run the same formula on
Tensors (``nnbox/ops/_tensor_xp.py``).  This test reads the source of every such formula, and of
the module-level helpers it calls, and rejects what would break on Tensors or silently detach:

- a method call on a value (``g.sum()``, ``a.reshape(...)``): NumPy's and Tensor's methods differ;
  call ``xp.sum(g, axis=...)`` instead (calls on ``xp``, ``ctx``, ``math`` are fine);
- ``np.<function>(...)`` other than ``np.errstate``: it would turn a Tensor into an array;
- ``.T``, ``.size``, ``.flat``, ``.real``: attributes whose meaning differs between the two;
- a write into an existing value (``g[i] = ...``, ``g += ...``): an in-place change of a value that
  may be a Tensor in the graph, or another node's gradient buffer.

A branch entered only for NumPy arrays (``if type(grad) is _ndarray and ...:``) never runs on
Tensors: its body (a first-order fast path) is exempt; its ``else`` is not.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap

import pytest

import nnbox.ops
from nnbox.autograd.function import Function

ALLOWED_BASES = {"xp", "ctx", "math", "builtins"}
FORBIDDEN_ATTRS = {"T", "size", "flat", "real", "imag", "flags", "astype", "item"}


def _twice_classes():
    seen = []
    names = [f"nnbox.ops.{info.name}" for info in pkgutil.iter_modules(nnbox.ops.__path__)]
    for name in names + ["nnbox.autograd.views"]:
        mod = importlib.import_module(name)
        for obj in vars(mod).values():
            if (inspect.isclass(obj) and issubclass(obj, Function) and obj.__module__ == mod.__name__
                    and obj.__dict__.get("_twice") is True):
                seen.append(obj)
    return seen


def _module_defs(mod) -> dict:
    tree = ast.parse(inspect.getsource(mod))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


_UTIL_DEFS = _module_defs(importlib.import_module("nnbox.ops._util"))


def _ndarray_guard(test: ast.expr) -> bool:
    """``type(x) is _ndarray`` (or ``np.ndarray``), alone or as one term of an ``and``."""
    if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And):
        return any(_ndarray_guard(v) for v in test.values)
    return (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Is)
            and isinstance(test.left, ast.Call) and isinstance(test.left.func, ast.Name) and test.left.func.id == "type"
            and ast.unparse(test.comparators[0]) in ("_ndarray", "np.ndarray"))


def _walk(node: ast.AST):
    """``ast.walk`` without the bodies of NumPy-only branches."""
    yield node
    if isinstance(node, ast.If) and _ndarray_guard(node.test):
        children = [node.test, *node.orelse]
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _walk(child)


def _violations(fn: ast.FunctionDef, defs: dict, seen: set) -> list[str]:
    out = []
    for node in _walk(fn):
        where = f"{fn.name}:{node.lineno}" if hasattr(node, "lineno") else fn.name
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                base = f.value
                if isinstance(base, ast.Name) and base.id == "np":
                    if f.attr != "errstate":
                        out.append(f"{where}: np.{f.attr}(...) turns Tensors into arrays; use xp.{f.attr}")
                elif not (isinstance(base, ast.Name) and (base.id in ALLOWED_BASES or (
                        f.attr in ("run", "apply") and base.id.lstrip("_")[:1].isupper()))):  # another Function's node
                    out.append(f"{where}: method call .{f.attr}(...) on a value; use the xp function")
            elif isinstance(f, ast.Name) and f.id not in seen:
                helper = defs.get(f.id) or _UTIL_DEFS.get(f.id)
                if helper is not None:
                    seen.add(f.id)
                    out += _violations(helper, defs, seen)
        elif isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRS and isinstance(node.ctx, ast.Load):
            if not (isinstance(node.value, ast.Name) and node.value.id in ALLOWED_BASES):
                out.append(f"{where}: .{node.attr} means different things on arrays and Tensors")
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, (ast.Subscript, ast.Attribute)) and not (
                        isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "ctx"):
                    out.append(f"{where}: writes into an existing value")
            if isinstance(node, ast.AugAssign):
                out.append(f"{where}: augmented assignment may write in place; use x = x + y")
    return out


CLASSES = _twice_classes()


def test_some_ops_are_twice_differentiable():
    assert len(CLASSES) > 5


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__.rsplit('.', 1)[-1]}.{c.__name__}")
def test_backward_formula_follows_the_rules(cls):
    mod = inspect.getmodule(cls)
    defs = _module_defs(mod)
    src = textwrap.dedent(inspect.getsource(cls.backward))
    fn = ast.parse(src).body[0]
    problems = _violations(fn, defs, set())
    assert not problems, f"{cls.__name__}.backward breaks the formula rules:\n" + "\n".join(problems)


def test_the_checker_catches_a_method_call_and_an_inplace_write():
    src = textwrap.dedent('''
    def backward(ctx, grad):
        out = grad.sum(axis=0)
        out[0] = 1
        out += grad
        return np.exp(out), grad.T
    ''')
    problems = _violations(ast.parse(src).body[0], {}, set())
    assert len(problems) == 5, problems


def test_the_checker_skips_only_numpy_only_branches():
    src = textwrap.dedent('''
    def backward(ctx, grad):
        if type(grad) is _ndarray and grad.ndim == 2:
            return grad.T
        if type(grad) is _ndarray or ctx.flag:
            return grad.T
        if type(grad) is _ndarray:
            pass
        else:
            return grad.T
        return grad
    ''')
    problems = _violations(ast.parse(src).body[0], {}, set())
    assert len(problems) == 2, problems  # the "or" branch and the else branch
