"""The on-disk kernel cache: reuse without rewriting, new file for a new model."""

from __future__ import annotations

from gutskin.engine import ModelSpec, Parameter, State, codegen


def _spec(rate: str) -> ModelSpec:
    return ModelSpec(
        name="cache probe",
        description="",
        states=[State("x", "1", "x", 1.0)],
        parameters=[Parameter("k", 0.5, "1/day", "rate")],
        rates={"x": rate},
    )


def _module_file(module):
    return codegen.cache_dir() / (module.__name__ + ".py")


def test_disk_cache_reuse_and_invalidation(tmp_path, monkeypatch):
    monkeypatch.setenv("GUTSKIN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(codegen, "_LOADED", {})
    assert codegen.cache_dir() == tmp_path / "kernels"

    spec = _spec("-k*x")
    first = codegen.load_kernel(spec)
    path = _module_file(first)
    assert path.parent == tmp_path / "kernels" and path.is_file()
    text = path.read_text()
    body, _, end = text.rpartition("\n\n# end of generated kernel ")
    assert body == codegen.generate_source(spec).rstrip("\n")
    assert end.strip() == path.stem.rsplit("_", 1)[1]  # the end marker names the key
    stamp = path.stat().st_mtime_ns
    listing = sorted(p.name for p in path.parent.iterdir())

    # a fresh process would only have the disk: drop the in-memory table
    monkeypatch.setattr(codegen, "_LOADED", {})
    again = codegen.load_kernel(spec)
    assert again.__name__ == first.__name__
    assert path.stat().st_mtime_ns == stamp  # not regenerated
    assert sorted(p.name for p in path.parent.iterdir()) == listing  # no temp files left
    assert codegen.load_kernel(spec) is again  # in-process reuse

    # parameter values are data, not code: same module
    assert codegen.load_kernel(spec.with_parameters(k=2.0)).__name__ == first.__name__

    # a changed model gets a different module file; the old one stays
    changed = codegen.load_kernel(_spec("-k*x**2"))
    assert changed.__name__ != first.__name__
    assert _module_file(changed).is_file() and path.is_file()
    assert codegen.generate_source(_spec("-k*x**2")) != codegen.generate_source(spec)
