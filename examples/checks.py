"""Python gates used by the example workflows (``python: checks.py:FUNCTION``).

A gate function receives the stage's output: return True (or None) to pass, False to fail, or
a string that tells the stage what to fix.
"""

from __future__ import annotations


def no_unfinished_sentences(output: object) -> bool | str:
    """The text must not end mid-sentence (a sign the model ran out of tokens)."""
    text = str(output).rstrip()
    if not text:
        return "the output is empty"
    if text.endswith((",", ";", ":", "-", " and", " or")):
        return "the text ends mid-sentence: finish the last sentence"
    return True
