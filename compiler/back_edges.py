"""The edges that close a cycle in a directed graph, found by one depth-first search.

Shared by the NIR frontend (which refuses a recurrent edge) and the float NIR reference (which delays it
by one step), so both name the same edges.
"""

from __future__ import annotations

from collections.abc import Iterable


def back_edges(succ: dict[str, list[str]], roots: Iterable[str]) -> list[tuple[str, str]]:
    """Every edge ``(name, child)`` whose ``child`` is still on the depth-first stack, in the order found.

    ``succ`` maps every node to its successors (visited in list order); the search starts from each of
    ``roots`` not yet visited, in order.
    """
    state: dict[str, int] = {}   # 1 = on the stack, 2 = done
    back: list[tuple[str, str]] = []
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            name, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[name] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.append((name, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    return back
