"""Safe C text, shape arithmetic, the registry and its generated docs."""

from __future__ import annotations

import re

import pytest

from tinykit.codegen import csyntax
from tinykit.codegen.docs import OPS_DOC, ops_markdown
from tinykit.codegen.registry import KERNELS
from tinykit.codegen.shapes import broadcast_strides, merge_copy, merge_dims
from tinykit.errors import ConfigError


@pytest.mark.parametrize("name", ["model", "kws", "vww_96", "m2"])
def test_good_model_names(name):
    assert csyntax.check_model_name(name) == name


@pytest.mark.parametrize("name", ["", "Model", "2fast", "int", "static", "tk_net", "a-b",
                                  "_x", "a__b", "x" * 33, "caf\u00e9", "main", "bool"])
def test_bad_model_names_say_what_is_wrong(name):
    with pytest.raises(ConfigError) as info:
        csyntax.check_model_name(name)
    assert "--name" in info.value.message and info.value.hint


@pytest.mark.parametrize("text", ["*/ evil(); /*", "a\nb", "??/", "back\\slash", "/* x",
                                  "\u00e9\u00e8\x00\x7f", "*/*/*/"])
def test_comment_text_cannot_end_the_comment(text):
    cleaned = csyntax.comment_text(text)
    assert "*/" not in cleaned and "/*" not in cleaned and "??" not in cleaned
    assert "\\" not in cleaned and all(" " <= ch <= "~" for ch in cleaned)


@pytest.mark.parametrize("text", ['say "hi"', "back\\slash", "new\nline", "??=", "\u00e9"])
def test_string_literal_escapes_everything(text):
    literal = csyntax.string_literal(text)
    body = literal[1:-1]
    assert literal.startswith('"') and literal.endswith('"')
    assert not re.search(r'(?<!\\)"', body) and "\n" not in body and "?" not in body
    decoded = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), body)
    assert decoded.replace('\\"', '"').replace("\\\\", "\\").encode("latin-1") == \
        text.encode("utf-8")


def test_identifier_rejects_keywords_and_junk():
    assert csyntax.identifier("model_const_op1_bias") == "model_const_op1_bias"
    for bad in ("while", "1x", "a b", "x;y"):
        with pytest.raises(ValueError):
            csyntax.identifier(bad)


def test_literals():
    assert csyntax.c_int(-(1 << 31)) == "INT32_MIN"
    assert csyntax.float_literal(0.5, single=True) == "0x1.0000000000000p-1f"
    assert csyntax.dims_initializer([3, 4], 4) == "{3, 4, 0, 0}"


def test_broadcast_strides_merge_what_is_contiguous():
    assert broadcast_strides((1, 49, 10, 64), (1, 1, 1, 64), (1, 49, 10, 64)) == \
        ([490, 64], [64, 1], [0, 1])
    assert broadcast_strides((2, 3, 5), (2, 3, 5), (2, 3, 5)) == ([30], [1], [1])
    assert broadcast_strides((3, 1), (1, 7), (3, 7)) == ([3, 7], [1, 0], [0, 1])
    assert broadcast_strides((1,), (1,), (1,)) == ([1], [0], [0])
    with pytest.raises(ValueError):
        broadcast_strides((3,), (4,), (4,))


def test_merge_helpers():
    assert merge_dims([(4, 6), (2, 3), (3, 1)]) == [(24, 1)]
    assert merge_dims([(4, 7), (1, 5), (3, 1)]) == [(4, 7), (3, 1)]
    assert merge_copy([2, 3], [3, 1], [3, 1]) == ([6], [1], [1])
    assert merge_copy([2, 3], [1, 2], [3, 1]) == ([2, 3], [1, 2], [3, 1])


def test_registry_entries_are_complete():
    for op, entry in KERNELS.items():
        assert entry.op == op and entry.summary
        assert entry.lower is not None or op in ("SHAPE", "PACK")
        assert entry.lower is None or entry.kernels or "view" in entry.summary


def test_ops_doc_is_generated_from_the_registry():
    assert OPS_DOC.read_text(encoding="utf-8") == ops_markdown(), \
        "docs/ops.md is stale: run `python -m tinykit.codegen.docs`"
    for op in KERNELS:
        assert f"| `{op}` |" in ops_markdown()
