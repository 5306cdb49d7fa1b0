"""Safe C text: identifiers checked against C keywords, escaped comments and strings, arrays.

Nothing read from a model file (tensor names, op names, descriptions) reaches generated
C except through `comment_text` or `string_literal`, so a name such as `*/ evil(); /*`
or one with a newline cannot change what the code does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from tinykit.errors import ConfigError

#: C99 keywords plus those C11/C23 and C++ added, which a user may compile the code as.
C_KEYWORDS = frozenset(
    """auto break case char const continue default do double else enum extern float for
    goto if inline int long register restrict return short signed sizeof static struct
    switch typedef union unsigned void volatile while _Bool _Complex _Imaginary _Alignas
    _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local alignas alignof bool
    constexpr false nullptr static_assert thread_local true typeof typeof_unqual asm
    catch class delete friend mutable namespace new operator private protected public
    template this throw try typeid typename using virtual wchar_t main""".split()
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Longest model name we accept; the longest generated identifier is then well under
#: the 63 significant characters C99 guarantees for internal identifiers.
MAX_NAME_LENGTH = 32


def check_model_name(name: str) -> str:
    """Validate `--name`: a C identifier usable as a symbol prefix and a file name.

    Raises `ConfigError` naming what is wrong and what would be right.
    """
    hint = "use lower-case letters, digits and underscores, e.g. --name kws_model"
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"--name '{name}' is not a C identifier", hint=hint)
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"--name '{name}' is longer than {MAX_NAME_LENGTH} characters",
                          hint=hint)
    if name in C_KEYWORDS or name.upper() in C_KEYWORDS:
        raise ConfigError(f"--name '{name}' is a C keyword", hint=hint)
    if name.startswith("_") or "__" in name:
        raise ConfigError(f"--name '{name}' is a reserved C identifier (leading or double "
                          "underscore)", hint=hint)
    if name.lower().startswith("tk_") or name.lower() in ("tk", "tinykit_kernels"):
        raise ConfigError(f"--name '{name}' clashes with the shared kernels (tk_*)", hint=hint)
    if not name.isascii() or name != name.lower():
        raise ConfigError(f"--name '{name}' must be lower case (macros use its upper case)",
                          hint=hint)
    return name


def identifier(text: str) -> str:
    """Assert that a generated identifier is a valid, non-keyword C identifier."""
    if not _IDENTIFIER.match(text) or text in C_KEYWORDS:
        raise ValueError(f"generated identifier {text!r} is not a valid C identifier")
    return text


def comment_text(text: str, limit: int = 120) -> str:
    """Text safe inside a /* */ comment on one line: printable ASCII, no `*/`, no `/*`."""
    cleaned = "".join(ch if " " <= ch <= "~" else "?" for ch in text)
    cleaned = cleaned.replace("*/", "*?").replace("/*", "/?").replace("\\", "/")
    cleaned = re.sub(r"\?+", "?", cleaned)  # no trigraphs: ??/ would splice the next line
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3] + "..."
    return cleaned


def string_literal(text: str) -> str:
    """A C string literal for `text` with everything outside printable ASCII escaped."""
    parts = []
    for ch in text:
        if ch in '"\\':
            parts.append("\\" + ch)
        elif " " <= ch <= "~" and ch != "?":
            parts.append(ch)
        else:
            for byte in ch.encode("utf-8"):
                parts.append(f"\\{byte:03o}")
    return '"' + "".join(parts) + '"'


def int_list(values: Iterable[int], per_line: int = 16, indent: str = "    ") -> str:
    """Comma-separated integers, `per_line` to a line (for array initializers)."""
    items = [str(int(v)) for v in values]
    if not items:
        return indent + "0"
    lines = [
        indent + ", ".join(items[i : i + per_line]) + ","
        for i in range(0, len(items), per_line)
    ]
    return "\n".join(lines)


def c_int(value: int) -> str:
    """An integer literal that is valid for any int32 (INT32_MIN needs a cast)."""
    value = int(value)
    if value == -(1 << 31):
        return "INT32_MIN"
    return str(value)


def float_literal(value: float, single: bool) -> str:
    """An exact hexadecimal float literal (C99), `f` suffix for a float constant."""
    text = float(value).hex()
    return text + ("f" if single else "")


def dims_initializer(values: Sequence[int], size: int) -> str:
    """`{a, b, c, 0, 0, 0}`: a fixed-size dimension array padded with zeros."""
    padded = list(values) + [0] * (size - len(values))
    return "{" + ", ".join(c_int(v) for v in padded) + "}"
