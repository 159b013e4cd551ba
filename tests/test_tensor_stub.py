"""``nnbox/_tensor.pyi`` declares every Tensor method (the ops attach them at import, so the stub is
what readers, IDEs and type checkers see); it must match what the ops define."""
import pathlib
import runpy

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_tensor_stub_is_up_to_date():
    gen = runpy.run_path(str(ROOT / "tools" / "gen_tensor_stub.py"))
    current = (ROOT / "nnbox" / "_tensor.pyi").read_text()
    assert gen["render"]() == current, "nnbox/_tensor.pyi is out of date: run python tools/gen_tensor_stub.py"
