"""Where in a flow an error happened, written on the error itself.

A step's exception travels up unchanged (same object, same type, same traceback), but it
gains one note naming the path through the flows that ran it::

    ValueError: bad value
    in pipeline 'outer' -> step 'f2' (pipeline) -> step 1

Each flow the exception leaves extends the path; the note is rewritten in place, so nested
flows give one note with the full path, not one note per level.
"""
from __future__ import annotations

from typing import Any

__all__ = ['record_step_failure', 'flow_label']

_PATH_ATTR = '_lazyllm_flow_path'     # (flow label, [step descriptions], note text)


def flow_label(flow: Any) -> str:
    """``pipeline 'outer'`` for a named flow, ``pipeline`` otherwise."""
    kind = type(flow).__name__.lower()
    name = getattr(flow, '_name', None)
    return f"{kind} {name!r}" if name else kind


def record_step_failure(error: BaseException, flow: Any, step_text: str) -> None:
    """Extend ``error``'s flow path by one level (``flow`` ran the step that failed) and
    rewrite its note. Errors that refuse new attributes or notes are left as they are."""
    previous = getattr(error, _PATH_ATTR, None)
    steps = [step_text] + (previous[1] if previous else [])
    note = f'in {flow_label(flow)} -> ' + ' -> '.join(steps)
    try:
        setattr(error, _PATH_ATTR, (flow_label(flow), steps, note))
        notes = getattr(error, '__notes__', None)
        if previous and isinstance(notes, list) and previous[2] in notes:
            notes[notes.index(previous[2])] = note
        elif hasattr(error, 'add_note'):
            error.add_note(note)
        else:   # Python 3.10: no add_note; keep the note where 3.11 tools look for it
            # typeshed declares __notes__ from 3.11 on; on 3.10 it is a plain attribute
            error.__notes__ = (  # type: ignore[attr-defined]
                (notes if isinstance(notes, list) else []) + [note])
    except (AttributeError, TypeError):
        return
