"""The OCR models' runners on their runtimes (:mod:`screenstate.embeddings.ocr` compiles
them): calls into one compiled OpenVINO model from several threads, one infer request per
stream taken in turn (an infer request runs one call at a time); onnxruntime sessions."""

from __future__ import annotations

import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

Run = Callable[[np.ndarray], np.ndarray]


def infer_runner(compiled: Any, parallel: int = 1) -> Run:
    """``run(x)`` -> the first output of ``compiled`` for input ``x``. ``parallel`` == 1: one
    request, its output a view that the caller consumes before the next call (callers take
    turns themselves); > 1: that many requests, each output copied, a call waits while all
    requests are busy."""
    if parallel == 1:
        request = compiled.create_infer_request()
        return lambda x: request.infer({0: x})[0]
    idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
    for _ in range(parallel):
        idle.put(compiled.create_infer_request())

    def run(x: np.ndarray) -> np.ndarray:
        request = idle.get()
        try:
            return np.array(request.infer({0: x})[0])
        finally:
            idle.put(request)

    return run


def onnxruntime_models(det_path: Path, rec_path: Path, threads: int, parallel: int = 1) -> tuple[Run, Run, str]:
    """(detector, recogniser, recogniser character list) on onnxruntime's CPU provider."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = max(1, threads // parallel)

    def session(path: Path) -> Any:
        return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])

    def runner(sess: Any) -> Run:
        name = sess.get_inputs()[0].name
        return lambda x: sess.run(None, {name: x})[0]

    det, rec = session(det_path), session(rec_path)
    return runner(det), runner(rec), str(rec.get_modelmeta().custom_metadata_map["character"])
