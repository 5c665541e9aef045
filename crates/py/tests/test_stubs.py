"""The type stubs cover the native module: every public native name is declared in
``_s3dlio.pyi``, and every function and class there has a docstring (issue 22)."""

import ast
import pathlib

import s3dlio
from s3dlio import _s3dlio

STUB = pathlib.Path(s3dlio.__file__).with_name("_s3dlio.pyi")


def declared():
    tree = ast.parse(STUB.read_text())
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


def test_every_native_name_is_declared():
    names = declared()
    native = {n for n in dir(_s3dlio) if not n.startswith("_")}
    assert sorted(native - set(names)) == []


def test_every_declared_function_and_class_has_a_docstring():
    missing = [n for n, node in declared().items() if not n.startswith("_") and not ast.get_docstring(node)]
    assert missing == []


def _value(expr):
    """A stub default's value: a literal or simple arithmetic such as ``8 << 20``."""
    return eval(compile(ast.Expression(body=expr), str(STUB), "eval"), {"__builtins__": {}})


def _stub_params(node):
    """(name, default) of a stub function's parameters; `inspect.Parameter.empty` where it
    has no default."""
    import inspect

    a = node.args
    positional = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + [
        _value(d) for d in a.defaults
    ]
    params = list(zip([p.arg for p in positional], defaults))
    params += [
        (p.arg, inspect.Parameter.empty if d is None else _value(d))
        for p, d in zip(a.kwonlyargs, a.kw_defaults)
    ]
    return [(n, d) for n, d in params if n != "self"]


def _native_params(obj):
    import inspect

    return [(p.name, p.default) for p in inspect.signature(obj).parameters.values() if p.name != "self"]


def _callables():
    """(qualified name, native callable, stub node) of every function and method the stub
    declares."""
    for name, node in declared().items():
        if isinstance(node, ast.FunctionDef):
            yield name, getattr(_s3dlio, name), node
            continue
        cls = getattr(_s3dlio, name, None)
        if cls is None:
            continue  # a typing-only class (a TypedDict)
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and (item.name == "__init__" or not item.name.startswith("_")):
                native = cls if item.name == "__init__" else getattr(cls, item.name)
                yield f"{name}.{item.name}", native, item


def test_help_shows_each_default_as_the_stub_declares_it():
    # pyo3 writes a default it cannot render as `...`; help() then shows `Ellipsis`.
    vague, differ = [], []
    for name, native, node in _callables():
        if getattr(native, "__text_signature__", None) is None and not isinstance(native, type):
            continue  # a property or a pure-Python helper: no native signature
        try:
            got = _native_params(native)
        except ValueError:
            continue  # a class without a text signature of its own
        if any(d is Ellipsis for _, d in got):
            vague.append(name)
        elif got != _stub_params(node):
            differ.append((name, got, _stub_params(node)))
    assert vague == []
    assert differ == []
