"""What a row's runtime and MLPerf harness fix about how a network runs, read from their sources: the number format
an fp32 network's matrix work runs in on a GPU, and the largest batch the harness passes to one call.

Keys are (the runtime the row's software column names first, lower case; network), as
:data:`inferchip.validation.vision.rows.HARNESS_INFERENCE_STREAMS`.
"""

from __future__ import annotations

from inferchip.errors import InvalidSettingError
from inferchip.spec.bounds import pick
from inferchip.spec.chip import ChipSpec
from inferchip.spec.params import ChipParams
from inferchip.validation.vision.cases import VisionCase

TF32_RUNTIMES = ("tensorrt", "onnxruntime")
"""Runtimes whose NVIDIA GPU execution runs fp32 convolutions and GEMMs on the TF32 tensor cores unless told not to.
TensorRT: its builder sets the TF32 flag by default on Ampere and later (TensorRT developer guide, reduced precision:
FP16, INT8 and TF32 are separate flags and TF32 is on by default), so an fp32 engine multiplies at the TF32 rate and
energy. ONNX Runtime's CUDA execution provider: ``CUDAExecutionProviderInfo::use_tf32{true}``, "By default, enable TF32
to speed up float GEMM/MatMul or cuDNN convolution of float matrices" (microsoft/onnxruntime
``onnxruntime/core/providers/cuda/cuda_execution_provider_info.h``). For convolutions this is cuDNN's own default:
``CUDNN_DEFAULT_MATH`` permits TF32 tensor-core kernels on Ampere and later (cuDNN ``cudnnMathType_t``), which ORT
kept as its default before the option existed (microsoft/onnxruntime issue 15407, 2023: "Currently, ORT enables TF32
by default") and under ``use_tf32 = 1`` since it did (PR 19357, cuBLAS GEMM, and PR 19426, cuDNN convolution, both
merged in February 2024); the rows are MLPerf v5.1 (2025) runs on CUDA 12.6 builds. The MLCommons C++ harness that ran
the GPU rows sets only ``device_id`` in its CUDA provider options (mlcommons/ck
``cm-mlops/script/app-mlperf-inference-cpp/inc/onnxruntime_backend.h``), so the default holds. Both run on NVIDIA GPUs
(TensorRT; ORT's CUDA provider, where AMD GPUs take the ROCm or MIGraphX provider) with a TF32 matrix peak only; on a
CPU the same runtime runs fp32 on the vector units. Keyed on the runtime the row names first: the L4 SSD-ResNet50 row
of the MLPerf Automotive README ("reference implementation (README: ONNX backend ...)") states neither the runtime's
version nor its execution provider and keeps fp32. PyTorch and TensorFlow are not listed although cuDNN convolutions
default to TF32 in PyTorch too (``torch.backends.cudnn.allow_tf32``): their fp32 rows fit only at the CUDA-core rate
(measured at stop 29: read as TF32 the RTX 4090 RetinaNet Offline row goes +26 -> +104 %, the 3090 BEVFormer-tiny row
+44 -> +115 %, the 4090 SSD-ResNet50 row +1 -> -33 %; docs/vision.md)."""

RUNTIME_SPELLINGS = {"onnxruntime": "onnxruntime", "onnxruntime-gpu": "onnxruntime", "onnx runtime": "onnxruntime",
                     "ort": "onnxruntime", "tensorrt": "tensorrt", "trt": "tensorrt"}
"""How a row's software column may name a runtime (lower case, first word or first two words) -> the runtime's key."""

HARNESS_MAX_BATCH = {("onnxruntime", "retinanet-resnext50-fpn-800"): 1, ("qualcomm", "retinanet-resnext50-fpn-800"): 1}
"""Largest batch a runtime's MLPerf harness passes to one call of a network, in every scenario. The MLCommons C++
harness refuses any other batch for RetinaNet on ONNX Runtime: "onnx retinanet requires batch size 1" (mlcommons/ck
``cm-mlops/script/app-mlperf-inference-cpp/src/main.cpp``), and it keeps one session per GPU (``gpu_device.h``:
``NumConcurrency() = NumMemory()``, the device count), so its Offline run is batch-1 calls back to back. KILT on the
Cloud AI 100 compiles RetinaNet at batch 1 in every scenario: KRAI's Docker recipe named by the v4.0 Qualcomm README
builds one RetinaNet profile at batch 1 (krai/axs2qaic-docker ``retinanet/Dockerfile``), and the assembled KILT
configurations for RetinaNet Offline and Server on the R282-Z93 with 8 Pro cards set ``"batchSize": 1`` and
``"recommended_batch_size": 1`` (krai/axs2config ``assembled_r282_z93_q8e_...``; the programs' cores:
:mod:`inferchip.validation.vision.programs`)."""


def runtime_of(case: VisionCase) -> str:
    """The runtime the software column names first (:data:`RUNTIME_SPELLINGS`), else its first word (lower case)."""
    words = case.software.strip().lower().replace(";", " ").replace(",", " ").split()
    if not words:
        return ""
    two = " ".join(words[:2])
    return RUNTIME_SPELLINGS.get(two) or RUNTIME_SPELLINGS.get(words[0]) or words[0]


def executed_format(case: VisionCase, chip: ChipParams, *, cpu: bool) -> str:
    """The format the row's matrix work runs in: ``tf32`` for an fp32 row of a :data:`TF32_RUNTIMES` runtime on an
    NVIDIA GPU with a TF32 peak, else the row's stated precision (the one place this is decided)."""
    fmt = case.precision
    if cpu or fmt != "fp32" or runtime_of(case) not in TF32_RUNTIMES or not case.accelerator.startswith("nvidia-"):
        return fmt
    tf32 = chip.peak_flop_per_s.get("tf32")
    return "tf32" if tf32 is not None and float(tf32) > 0.0 else fmt


MIXED_INT8_PRECISIONS = ("fp16/int8", "fp32/int8")
"""Stated precisions of TensorRT engines built with the INT8 flag and a calibrator on a float ONNX (implicit
quantization): INT8 where TensorRT has INT8 kernels, the float format before the slash elsewhere
(:func:`inferchip.cost.vision.layers.layer_formats`). The rows that state them are DerryHub/BEVFormer_tensorrt's
(README @0fb1662610, "Float/Int" FP32/INT8 and FP16/INT8). Their "PTQ max/per-tensor" engines are the calibrated
ones, not the Q/DQ (pytorch-quantization ``Conv2dQ`` / ``LinearQ``) ones: the README's INT8 commands are
``onnx2trt_int8.sh`` / ``onnx2trt_int8_fp16.sh`` ("calibration and convert .onnx", i.e.
the repo's BEVFormer ``onnx2trt.py --int8 [--fp16] --calibrator ...`` on the plain ONNX, @5f46484c; the Q/DQ flow is the
separate ``*_qdq.sh``); the README @8f17ad16 relabels the same MMDeploy figures (65.1 / 70.7 fps, NDS 0.353, 58 /
54 MB) "PTQ entropy per-tensor"; and the earlier Q/DQ engines of the README (NDS 0.344-0.348) are 48-50 MB against
these 57-58 MB, the size of INT8 convolution weights (24.6 M parameters) with the transformer's ~9 M in FP32."""

FP32_PLUGIN_RUNTIMES = ("mmdeploy plugins",)
"""Software columns whose deformable-attention / grid-sampler plugins run FP32 only, whatever the engine's
precision: DerryHub/BEVFormer_tensorrt README @0fb1662610, "BEVFormer TensorRT with MMDeploy Plugins (Only
Support FP32)" (the repo's own nv_half / nv_half2 plugins run FP32 and FP16)."""


def quantised_format(case: VisionCase) -> str | None:
    """``int8`` for a TensorRT row of a :data:`MIXED_INT8_PRECISIONS` engine (its convolutions run INT8, the rest in
    :func:`executed_format`), else None (one format for every layer). A mixed precision on another runtime has no
    stated meaning here: :class:`~inferchip.errors.InvalidSettingError` naming the row (the row is then reported
    unexpressible with that reason)."""
    if not case.precision_text.lower().startswith(MIXED_INT8_PRECISIONS):
        return None
    if runtime_of(case) != "tensorrt":
        raise InvalidSettingError(f"precision {case.precision_text!r} is read only for TensorRT (implicit INT8: "
                                  f"convolutions INT8, the rest float); runtime {runtime_of(case)!r} states no reading")
    return "int8"


def gather_format(case: VisionCase, *, cpu: bool) -> str | None:
    """``fp32`` for a GPU row whose software runs its sampling plugins FP32 only (:data:`FP32_PLUGIN_RUNTIMES`),
    else None (the gather layers run the row's format)."""
    soft = case.software.lower()
    plugins = any(f"with {r}" in soft for r in FP32_PLUGIN_RUNTIMES)  # "TensorRT ... with MMDeploy plugins"
    return "fp32" if not cpu and plugins and runtime_of(case) == "tensorrt" else None


def harness_max_batch(case: VisionCase) -> int | None:
    """The harness's largest batch per call for the row (:data:`HARNESS_MAX_BATCH`), None when the table names none."""
    return HARNESS_MAX_BATCH.get((runtime_of(case), case.model))


NCHWC_RUNTIMES = ("onnxruntime",)
"""Runtimes that run an fp32 convolution on an x86 CPU as MLAS's NCHWc direct convolution: ONNX Runtime's CPU
execution provider rewrites Conv into ``NchwcConv`` at its default optimisation level (``ORT_ENABLE_ALL``, the
level the MLPerf reference backend and the MLCommons C++ harness leave set: onnxruntime
``core/optimizer/nchwc_transformer.cc``; mlcommons/inference ``backend_onnxruntime.py`` builds its session with default
``SessionOptions``). TensorFlow (oneDNN) and PyTorch run their own kernels and are not listed."""


def runs_mlas_nchwc(case: VisionCase, *, cpu: bool) -> bool:
    """True for an fp32 row of a :data:`NCHWC_RUNTIMES` runtime on a CPU (its convolutions are MLAS NCHWc ones)."""
    return cpu and case.precision == "fp32" and runtime_of(case) in NCHWC_RUNTIMES


EAGER_NCHW_RUNTIMES = ("pytorch",)
"""Runtimes whose fp32 CPU rows run every convolution as its own oneDNN primitive on plain NCHW tensors, reordering
the input to oneDNN's blocked layout and the output back (eager PyTorch: ATen ``native/mkldnn/Conv.cpp``
``_mkldnn_convolution`` returns ``mkldnn_to_dense(...)`` unless the tensors are channels-last; the MLPerf
Automotive reference ``backend_deploy.py`` runs the NCHW model eagerly; :mod:`inferchip.cost.vision.eager`).
Submissions that convert the model (IPEX, channels-last, int8/bf16 on AMX) state another precision."""


def runs_eager_nchw(case: VisionCase, *, cpu: bool) -> bool:
    """True for an fp32 row of an :data:`EAGER_NCHW_RUNTIMES` runtime on a CPU."""
    return cpu and case.precision == "fp32" and runtime_of(case) in EAGER_NCHW_RUNTIMES


SCALAR_GRIDSAMPLE_RUNTIMES = ("onnxruntime",)
"""Runtimes whose CPU execution runs an ONNX ``GridSample`` (BEVFormer's deformable attention as the MLPerf
Automotive reference exports it) with ONNX Runtime's CPU kernel: a scalar loop per output element, parallel over
channels only (:mod:`inferchip.cost.vision.ort_gridsample`; microsoft/onnxruntime
``core/providers/cpu/tensor/grid_sample.cc``). GPU rows run the runtime's GPU kernel or a plugin."""


def runs_scalar_gridsample(case: VisionCase, *, cpu: bool) -> bool:
    """True for a CPU row of a :data:`SCALAR_GRIDSAMPLE_RUNTIMES` runtime (any precision: the kernel is float)."""
    return cpu and runtime_of(case) in SCALAR_GRIDSAMPLE_RUNTIMES


def gridsample_clock_hz(case: VisionCase, spec: ChipSpec, *, cpu: bool) -> float:
    """The core clock ONNX Runtime's scalar CPU ``GridSample`` is priced at for the row: the chip's catalogue clock
    (the clock its peaks are quoted at), as :mod:`inferchip.cost.vision.ort_gridsample` states, so that on a CPU whose
    cores turbo above it the time is an upper bound (the FLOP-weighted vector clock of ``cost/vision/clocks.py`` is
    not a per-core scalar clock: on a hybrid CPU it exceeds every core's all-core clock); 0 when the row does not run
    that kernel (:func:`runs_scalar_gridsample`) or the chip states no clock."""
    ghz = pick(spec.compute.clock_ghz)
    if not runs_scalar_gridsample(case, cpu=cpu) or ghz is None or ghz <= 0.0:
        return 0.0
    return ghz * 1e9
