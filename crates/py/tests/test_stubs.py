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
