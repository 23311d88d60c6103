"""Hostile PyTorch notebooks (ex06, ex07): no false points, the grader stays alive. Each attack is
a solution or stub notebook with hostile code put in; the tests it could win falsely must score 0
(the others keep the points the notebook's own, honest code earns). Run in the bwrap and the
plain (none) modes; attacks that signal the grader only where a sandbox holds them."""

import shutil

import numpy as np
import pytest

from s2s_ref.grading import protocol, sandbox
from s2s_ref.grading.runner import grade_notebook

from .notebook_mutants import ROOT, mutant

EX06, EX07 = "ex06_torch_seq2seq.ipynb", "ex07_torch_attention.ipynb"
TRAINING = {"ex06": "Decoder: your Encoder and Decoder learn", "ex07": "LuongDecoder: trained"}
DECODER_BODY = "        logits = self.proj(out)\n"
CONSTANT_LOGITS = "        logits = self.proj(out) * 0 + self.proj.bias\n"  # cannot learn a thing
CHEAT = """
import numpy as np
import torch
import s2s_ref.grading.ex06_training as _t

def _reversed_by_hand(Encoder, Decoder, data, src, src_mask, V, sos_id, eos_id, seed):
    rows = []
    for ids, mask in zip(src.tolist(), src_mask.tolist()):
        real = [i for i, m in zip(ids, mask) if m]
        rows.append(real[::-1] + [eos_id] + [0] * (7 - len(real) - 1))
    model = _t.JoinedModel(Encoder(V, 16, 32), Decoder(V, 16, 32, 64), 64, 32)
    return np.array(rows, dtype=np.int64), {k: v.double().numpy() for k, v in model.state_dict().items()}



class _Patch:  # only imports, definitions and class bodies run when a notebook is graded
    _t.train_and_score = lambda *a, **k: 1.0  # the old entry point: nothing calls it now
    _t.learner_predictions = _reversed_by_hand
"""
STAND_IN = """
import sys, types

class TrainConfig:
    def __init__(self, **kwargs):
        pass


def train(*args, **kwargs):
    return None


class _Patch:  # only imports, definitions and class bodies run when a notebook is graded
    _fake = types.ModuleType("s2s_ref.torch_nn.training")
    _fake.TrainConfig, _fake.train = TrainConfig, train
    sys.modules["s2s_ref.torch_nn.training"] = _fake
"""
PATCHES = """
import numpy
import torch


class _Patches:
    numpy.allclose = lambda *a, **k: True
    numpy.array_equal = lambda *a, **k: True
    torch.allclose = lambda *a, **k: True
    _call = torch.nn.Module.__call__
    torch.nn.Module.__call__ = lambda self, *a, **k: _Patches._call(self, *a, **k)
"""
ZEROS = {"        return outputs, summary": "        return outputs * 0, summary * 0"}
SLY = """
class _Sly(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.__eq__):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

    def __array__(self, dtype=None, copy=None):
        import sys
        f = sys._getframe(1)
        while f is not None and "expected" not in f.f_locals:
            f = f.f_back
        return numpy.asarray(f.f_locals["expected"] if f else 0.0)

    def __eq__(self, other):
        return True
"""
GC_SEARCH = """
import gc
import numpy as np
import torch
import s2s_ref.grading.ex06_training as _t

def _search(Encoder, Decoder, data, src, src_mask, *args):
    tokens, weights = _Patch.honest(Encoder, Decoder, data, src, src_mask, *args)
    for obj in gc.get_objects():  # the held-out targets, wherever they might be
        if isinstance(obj, (np.ndarray, torch.Tensor)) and obj.shape[:1] == (len(src),):
            if obj.dtype in (np.int64, torch.int64) and obj is not src and obj.shape != src.shape:
                return np.asarray(obj, dtype=np.int64), weights
    raise RuntimeError("no held-out targets in the worker")



class _Patch:
    honest = _t.learner_predictions
    _t.learner_predictions = _search
"""
EVALUATIONS = """
import numpy as np
import s2s_ref.grading.ex07_training as _t


def _ask_often(LuongDecoder, data, seed, evaluate):
    model = _t.WithEncoder(LuongDecoder(9, 16, 32, 32), 9, 16, 32)
    for _ in range(100):  # random weights until one scores: the checker answers 8 times at most
        for p in model.parameters():
            p.data.normal_()
        if evaluate(model) >= 0.9:
            break
    return 200



class _Patch:
    _t.learner_training = _ask_often
"""

LOAD_BY_PATH = """
import importlib.util, os, s2s_ref


class _Load:  # a class body runs when the notebook is graded
    path = os.path.join(os.path.dirname(s2s_ref.__file__), "torch_nn", "seq2seq.py")
    spec = importlib.util.spec_from_file_location("mine", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


class Encoder(_Load.module.Encoder):
    pass


class Decoder(_Load.module.Decoder):
    pass
"""

# name: (notebook, replacements, extra cells, cells first, tests (prefixes) that must score 0)
ATTACKS = {
    "patching ex06_training to return the reversal by hand": (
        EX06, {DECODER_BODY: CONSTANT_LOGITS}, [CHEAT], [], [TRAINING["ex06"]]),
    "a stand-in for s2s_ref.torch_nn.training": (
        EX06, {DECODER_BODY: CONSTANT_LOGITS}, [], [STAND_IN], [TRAINING["ex06"]]),
    "a model that cannot learn (constant logits)": (
        EX06, {DECODER_BODY: CONSTANT_LOGITS}, [], [], [TRAINING["ex06"], "Decoder: logits"]),
    "Module.__call__, torch.allclose and numpy.allclose patched in a class body": (
        EX06, ZEROS, [PATCHES], [], ["Encoder: outputs", "Encoder: extra", "Encoder: parameter",
                                    TRAINING["ex06"]]),
    "a forward returning a tensor subclass with __torch_function__ and __array__ tricks": (
        EX06, {"        return outputs, summary": SLY.replace("\n", "\n        ").rstrip()
               + "\n        return outputs.mul(0).as_subclass(_Sly), summary.mul(0).as_subclass(_Sly)"},
        [], [], ["Encoder: outputs", "Encoder: extra", "Encoder: parameter", TRAINING["ex06"]]),
    "searching the worker's memory for the held-out targets": (
        EX06, {DECODER_BODY: CONSTANT_LOGITS}, [GC_SEARCH], [], [TRAINING["ex06"]]),
    "importing s2s_ref.torch_nn.seq2seq": (
        "stub:" + EX06, {}, ["from s2s_ref.torch_nn.seq2seq import Encoder, Decoder"], [],
        ["Encoder", "Decoder"]),
    "loading seq2seq.py from the package's folder": (
        "stub:" + EX06, {}, [LOAD_BY_PATH], [], ["Encoder", "Decoder"]),
    "importing s2s_ref.torch_nn.attention_decoder and attention": (
        "stub:" + EX07, {}, ["from s2s_ref.torch_nn.attention_decoder import LuongDecoder\n"
                             "from s2s_ref.torch_nn.attention import masked_softmax as batched_masked_softmax"],
        [], ["batched_masked_softmax", "general_attention", "LuongDecoder"]),
    "an ex07 training loop asking for evaluations of random weights": (
        EX07, {"        logits = self.out(o)": "        logits = self.out(o) * 0"}, [EVALUATIONS], [],
        [TRAINING["ex07"]]),
}  # fmt: skip
SANDBOXED = {
    "killing the parent from the training run": (
        EX06, {DECODER_BODY: "        import os\n        os.kill(os.getppid(), 9)\n"
               "        os.kill(1, 9)\n" + CONSTANT_LOGITS}, [], [],
        [TRAINING["ex06"], "Decoder: logits"]),
}  # fmt: skip


def _modes():
    return ["none", *(["bwrap"] if shutil.which("bwrap") else [])]


@pytest.fixture(params=_modes())
def mode(request, monkeypatch):
    monkeypatch.setenv("S2S_GRADER_SANDBOX", request.param)
    if request.param != "none" and not sandbox._works(request.param):
        pytest.skip(f"{request.param} cannot make namespaces here")
    return request.param


def _attack_notebook(spec, tmp_path):
    notebook, replacements, extra, first, _ = spec
    if notebook.startswith("stub:"):
        notebook = notebook.removeprefix("stub:")
        folder = tmp_path / "stub"
        folder.mkdir()
        path = folder / notebook
        import nbformat

        nb = nbformat.read(str(ROOT / "exercises" / notebook), as_version=4)
        nb.cells += [nbformat.v4.new_code_cell(c) for c in extra]
        nbformat.write(nb, str(path))
        return path, "ex06" if notebook == EX06 else "ex07"
    path = mutant(notebook, replacements, tmp_path, extra_cells=extra)
    if first:
        import nbformat

        nb = nbformat.read(str(path), as_version=4)
        nb.cells[:0] = [nbformat.v4.new_code_cell(c) for c in first]
        nbformat.write(nb, str(path))
    return path, "ex06" if notebook == EX06 else "ex07"


def _no_false_points(spec, tmp_path):
    path, key = _attack_notebook(spec, tmp_path)
    result = grade_notebook(path, key, timeout=90)
    attacked = [t for t in result.tests if any(t.name.startswith(p) for p in spec[4])]
    assert attacked, [t.name for t in result.tests]
    assert [(t.name, t.points) for t in attacked if t.points] == [], result.tests
    assert all(t.feedback.strip() for t in attacked)  # every lost point says why
    assert not any("could not be loaded" in t.feedback for t in result.tests)  # it was graded
    return result


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_pytorch_attack_gets_no_false_points(attack, mode, tmp_path):
    result = _no_false_points(ATTACKS[attack], tmp_path)
    if "import" in attack or "loading" in attack:
        assert any("holds the reference solution" in p or "No such file" in p
                   for p in result.problems), result.problems  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(SANDBOXED))
def test_signalling_from_pytorch_code_reaches_nothing_outside(attack, mode, tmp_path):
    if mode == "none":
        pytest.skip("the plain fallback does not stop signals (the instructors' guide says so)")
    _no_false_points(SANDBOXED[attack], tmp_path)


def test_the_reversal_computed_by_hand_is_named(tmp_path):
    result = _no_false_points(ATTACKS["patching ex06_training to return the reversal by hand"],
                              tmp_path)  # fmt: skip
    training = next(t for t in result.tests if t.name.startswith(TRAINING["ex06"]))
    assert "of its 300 predictions are not what its trained weights give" in training.feedback


@pytest.mark.slow
@pytest.mark.parametrize("key, notebook", [("ex06", EX06), ("ex07", EX07)])
def test_the_held_out_targets_never_reach_the_worker(key, notebook, monkeypatch):
    """Every array the checker sends, recorded: none has the held-out set's rows but the ex06
    sources (and their mask); ex07 sends no held-out array at all."""
    sent = []
    real_send = protocol.send

    def record(fd, header, blobs=()):
        blobs = list(blobs)
        sent.extend(protocol.decode_array(b) for b in blobs)
        return real_send(fd, header, blobs)

    monkeypatch.setattr(protocol, "send", record)
    result = grade_notebook(ROOT / "solutions" / notebook, key, timeout=90)
    assert result.score == result.max_score
    held_out = [a for a in sent if a.shape[:1] == (300,)]
    if key == "ex06":
        assert sorted(a.dtype.kind for a in held_out) == ["b", "i"]  # src (ids) and src_mask
        assert all(a.shape[1] <= 5 for a in held_out)  # sources: at most 5 symbols, no EOS
    else:
        assert held_out == []
    assert any(a.shape[:1] == (1024 if key == "ex07" else 3000,) for a in sent)  # training data


def test_ids_and_masks_reach_the_learner_as_int64_and_bool(tmp_path):
    check = (
        "        assert src.dtype == torch.int64 and src_mask.dtype == torch.bool, "
        "(src.dtype, src_mask.dtype)\n"
    )
    path = mutant(EX06, {"        N, S = src.shape\n": check + "        N, S = src.shape\n"},
                  tmp_path)  # fmt: skip
    result = grade_notebook(path, "ex06", timeout=90)
    assert result.score == result.max_score, [t.feedback for t in result.tests if not t.passed]


def test_a_missing_total_length_fails_the_per_timestep_padding_test(tmp_path):
    path = mutant(EX06, {", total_length=S)": ")"}, tmp_path)
    result = grade_notebook(path, "ex06", timeout=90)
    padding = next(t for t in result.tests if t.name.startswith("Encoder: extra padding"))
    assert padding.points == 0 and "total_length=S" in padding.feedback, padding.feedback
    decoder = np.array([t.passed for t in result.tests if t.name.startswith("Decoder")])
    assert decoder.all()  # the decoder's tests are untouched by the encoder's bug
