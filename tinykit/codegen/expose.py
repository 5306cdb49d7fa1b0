"""A copy of a model whose every op output is also a model output, to find where C and
TFLite part ways.

Uses the flatbuffers object API of LiteRT's generated schema (ai-edge-litert, a pinned
dependency whose `schema_py_generated` imports nothing heavy). Only the subgraph's output
list changes, so both runtimes compute exactly what they computed before.
"""

from __future__ import annotations

from typing import Any


def expose_intermediates(data: bytes) -> tuple[bytes, list[int]]:
    """The model with every op output of the main subgraph appended to its outputs.

    Returns the new flatbuffer and the tensor index of each output, in output order.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model: Any = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    graph = model.subgraphs[0]
    outputs = [int(t) for t in graph.outputs]
    for op in graph.operators:
        for tensor in op.outputs if op.outputs is not None else []:
            if int(tensor) >= 0 and int(tensor) not in outputs:
                outputs.append(int(tensor))
    graph.outputs = outputs
    builder = flatbuffers.Builder(max(1024, len(data) + 4096))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), outputs
