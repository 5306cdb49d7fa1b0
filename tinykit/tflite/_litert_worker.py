"""Worker process for tflite-runtime: imports nothing but numpy and the interpreter.

tflite-runtime 2.14 crashes in a process that has imported TensorFlow 2.21, so tinykit
runs it here, in a fresh interpreter started by `tinykit.tflite.litert`.

    python -m tinykit.tflite._litert_worker run MODEL IN.npz OUT.npz [--reference]
    python -m tinykit.tflite._litert_worker details MODEL OUT.json

`run` reads arrays `in_<sample>_<input>` and writes `out_<sample>_<output>`.
Exit status 3 means the interpreter refused the model; its message is on stderr.
"""

import json
import sys

import numpy as np


def _interpreter(model_path, reference):
    from tflite_runtime.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if reference else OpResolverType.AUTO
    interpreter = Interpreter(model_path=model_path, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return interpreter


def _run(model_path, in_path, out_path, reference):
    interpreter = _interpreter(model_path, reference)
    inputs = interpreter.get_input_details()
    outputs = interpreter.get_output_details()
    with np.load(in_path) as request:
        count = int(request["count"])
        result = {}
        for sample in range(count):
            for i, detail in enumerate(inputs):
                interpreter.set_tensor(detail["index"], request[f"in_{sample}_{i}"])
            interpreter.invoke()
            for o, detail in enumerate(outputs):
                result[f"out_{sample}_{o}"] = interpreter.get_tensor(detail["index"]).copy()
    np.savez(out_path, **result)


def _quant(detail):
    params = detail["quantization_parameters"]
    return {
        "scales": [float(s) for s in params["scales"]],
        "zero_points": [int(z) for z in params["zero_points"]],
        "quantized_dimension": int(params["quantized_dimension"]),
    }


def _details(model_path, out_path):
    interpreter = _interpreter(model_path, reference=True)

    def tensor(detail):
        return {
            "name": detail["name"], "index": int(detail["index"]),
            "shape": [int(d) for d in detail["shape"]],
            "dtype": np.dtype(detail["dtype"]).name, "quantization": _quant(detail),
        }

    ops = [
        {
            "index": int(op["index"]), "op_name": op["op_name"],
            "inputs": [int(i) for i in op["inputs"]], "outputs": [int(o) for o in op["outputs"]],
        }
        for op in interpreter._get_ops_details()
    ]
    payload = {
        "inputs": [tensor(d) for d in interpreter.get_input_details()],
        "outputs": [tensor(d) for d in interpreter.get_output_details()],
        "tensors": [tensor(d) for d in interpreter.get_tensor_details()],
        "ops": ops,
    }
    with open(out_path, "w") as handle:
        json.dump(payload, handle)


def main(argv):
    try:
        if argv[0] == "run":
            _run(argv[1], argv[2], argv[3], "--reference" in argv[4:])
        elif argv[0] == "details":
            _details(argv[1], argv[2])
        else:
            sys.stderr.write(f"unknown worker command {argv[0]!r}\n")
            return 2
    except (ValueError, RuntimeError) as exc:
        sys.stderr.write(f"{type(exc).__name__}: {exc}\n")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
