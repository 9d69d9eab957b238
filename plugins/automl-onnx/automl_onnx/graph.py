"""A small ONNX graph builder: typed inputs, constants, nodes, and splicing in whole models made by
other converters (skl2onnx, onnxmltools, torch.onnx) under a name prefix."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ML = "ai.onnx.ml"
ML_OPSET = 3  # TreeEnsemble{Classifier,Regressor} with double thresholds; deprecated from ai.onnx.ml 5
IR_VERSION = 10  # what onnxruntime >= 1.18 reads (onnx itself may write a newer one by default)

DOUBLE = TensorProto.DOUBLE
FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64
STRING = TensorProto.STRING
BOOL = TensorProto.BOOL

TYPE_NAMES = {DOUBLE: "double", FLOAT: "float", INT64: "int64", STRING: "string"}


class Unsupported(Exception):
    """The model (or one of its members) cannot be expressed as ONNX; the message says why in one
    line. The exporter reports it (``exported=False``) instead of raising."""


class GraphBuilder:
    """Collects the nodes of one graph. Every value name is unique; ``op`` returns its output
    name(s), so code reads as a data flow: ``y = g.op("Add", [x, g.const(1.0)])``."""

    def __init__(self, opset: int) -> None:
        self.opsets: dict[str, int] = {"": opset, ML: ML_OPSET}
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.sparse_initializers: list[onnx.SparseTensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.functions: list[onnx.FunctionProto] = []
        self._used: set[str] = set()
        self._reserved: set[str] = set()

    def reserve(self, *names: str) -> None:
        """Keep ``names`` for the graph's outputs: no input or intermediate value takes them."""
        self._reserved.update(names)
        self._used.update(names)

    def available(self, name: str) -> bool:
        return name not in self._used

    def fresh(self, hint: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", hint) or "v"
        name, i = base, 1
        while name in self._used:
            name, i = f"{base}_{i}", i + 1
        self._used.add(name)
        return name

    def input(self, name: str, elem_type: int, shape: list[Any]) -> str:
        """Adds a graph input named ``name`` (a name from :meth:`fresh`, or one still available)."""
        if name in self._reserved:
            raise Unsupported(f"an input would have the name of the output {name!r}")
        self._used.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, value: str, name: str, elem_type: int, shape: list[Any]) -> None:
        if name in self._used and name not in self._reserved:
            raise Unsupported(f"the output name {name!r} is taken")
        self._reserved.discard(name)
        self._used.add(name)
        self.nodes.append(helper.make_node("Identity", [value], [name], name=self.fresh(f"out_{name}")))
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def const(self, value: Any, hint: str = "c", dtype: Any = None) -> str:
        array = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(
        self, op_type: str, inputs: list[str], hint: str | None = None, outputs: int = 1, domain: str = "", **attrs: Any
    ) -> Any:
        names = [self.fresh(f"{hint or op_type.lower()}") for _ in range(outputs)]
        node = helper.make_node(op_type, inputs, names, name=self.fresh(f"n_{hint or op_type}"), domain=domain, **attrs)
        self.nodes.append(node)
        return names[0] if outputs == 1 else names

    def cast(self, value: str, to: int, hint: str = "cast") -> str:
        return self.op("Cast", [value], hint, to=to)

    def splice(self, model: onnx.ModelProto, feeds: dict[str, str], prefix: str) -> dict[str, str]:
        """Add ``model``'s graph under ``prefix``; ``feeds`` maps each of its inputs to a value of
        this graph. Returns its outputs' names in this graph (by their original names)."""
        while True:
            hint = self.fresh(prefix)
            sub = onnx.compose.add_prefix(model, hint + "_", rename_functions=True)
            graph = sub.graph
            names = {t.name for t in graph.initializer} | {o for node in graph.node for o in node.output}
            if not names & self._used:
                prefix = hint + "_"
                break
        missing = [i.name[len(prefix) :] for i in graph.input if i.name[len(prefix) :] not in feeds]
        initializer_names = {t.name for t in graph.initializer}
        missing = [name for name in missing if prefix + name not in initializer_names]
        if missing:
            raise ValueError(f"no value fed to the spliced graph's input(s) {missing}")
        for node in graph.node:
            self._used.update(node.output)
        self._used.update(t.name for t in graph.initializer)
        for i in graph.input:
            original = i.name[len(prefix) :]
            if original in feeds:
                self.nodes.append(helper.make_node("Identity", [feeds[original]], [i.name], name=self.fresh("feed")))
                self._used.add(i.name)
        self.nodes.extend(graph.node)
        self.initializers.extend(graph.initializer)
        self.sparse_initializers.extend(graph.sparse_initializer)
        self.functions.extend(sub.functions)
        for opset in sub.opset_import:
            domain = opset.domain or ""
            self.opsets[domain] = max(self.opsets.get(domain, 0), opset.version)
        if self.opsets[ML] > 4:
            raise Unsupported(f"a converter produced ai.onnx.ml opset {self.opsets[ML]}; the graph needs <= 4")
        return {o.name[len(prefix) :]: o.name for o in graph.output}

    def model(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            "automl",
            self.inputs,
            self.outputs,
            self.initializers,
            sparse_initializer=self.sparse_initializers,
        )
        opsets = [helper.make_opsetid(domain, version) for domain, version in sorted(self.opsets.items())]
        model = helper.make_model(
            graph,
            opset_imports=opsets,
            functions=self.functions,
            ir_version=IR_VERSION,
            producer_name="automl-onnx",
            doc_string=doc,
        )
        return model


def tensor_type_name(value: onnx.ValueInfoProto) -> str:
    return TYPE_NAMES.get(value.type.tensor_type.elem_type, str(value.type.tensor_type.elem_type))
