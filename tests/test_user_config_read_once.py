"""A user's config.json is read once per setting (stop 40): the model, its checkpoint's weight format (the default of
``--weights``) and its per-layer format map all come from the one parsed record
(``catalog.models.load_model_config``), where before ``resolve_setting`` read the file three times."""

from __future__ import annotations

from pathlib import Path

from inferchip.catalog.checkpoints import attention_weight_format, checkpoint_weights
from inferchip.catalog.models import load_model, load_model_config
from inferchip.performance.setting import resolve_setting

CATALOG = Path(__file__).parents[1] / "src" / "inferchip" / "catalog"


def _copy(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text((CATALOG / "models" / "openai__gpt-oss-120b.json").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _count_reads(monkeypatch, path: Path) -> list[str]:
    reads: list[str] = []
    for name in ("read_bytes", "read_text"):
        real = getattr(Path, name)

        def counted(self, *args, _real=real, _name=name, **kwargs):
            if self == path:
                reads.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Path, name, counted)
    return reads


def test_a_setting_reads_the_users_config_once(tmp_path, monkeypatch):
    path = _copy(tmp_path)
    reads = _count_reads(monkeypatch, path)
    s = resolve_setting("nvidia-h100-sxm-80gb", str(tmp_path), count=2, tp=2)
    assert len(reads) == 1, reads  # before stop 40: 3 (the model, the weight default, the per-layer map)
    assert s.formats.weights == "mxfp4" and str(path) in s.weights_source  # the checkpoint's, read from the record
    assert s.formats.attention_weights == "bf16"  # gpt-oss leaves self_attn out of its MXFP4 quantisation
    assert any(n.startswith("per-layer formats from the checkpoint's quantization_config") for n in s.notes)


def test_the_record_gives_what_each_reader_gives_from_the_file(tmp_path):
    path = _copy(tmp_path)
    spec, config = load_model_config(str(path))
    assert config is not None and config.path == path
    assert spec == load_model(str(path)) == load_model(path)
    assert checkpoint_weights(str(path), config) == checkpoint_weights(str(path))
    for weights in ("mxfp4", "fp8"):
        assert attention_weight_format(str(path), weights, config) == attention_weight_format(str(path), weights)
    assert load_model_config("openai/gpt-oss-120b")[1] is None  # a catalogue id: no user file
