"""pytest plugin for `benchmarks.mutation`: mutmut's trampolines keep the signature of the function they wrap.

mutmut replaces each mutated function by a `(*args, **kwargs)` trampoline with `functools.wraps`. Keras'
`Operation.__new__` reads a layer's `__init__` with `inspect.getfullargspec`, which does not follow
`__wrapped__` and fails on a trampolined `__init__` ("list index out of range"). An explicit
`__signature__`, which `getfullargspec` reads, gives it the original signature back.
"""

import inspect

from mutmut.mutation import trampoline

_wrap_in_trampoline = trampoline.wrap_in_trampoline


def _wrap_keeping_signature(mutants_dict, is_classmethod=False):
    decorate = _wrap_in_trampoline(mutants_dict, is_classmethod)

    def decorated(func):
        wrapper = decorate(func)
        wrapper.__signature__ = inspect.signature(func)
        return wrapper

    return decorated


trampoline.wrap_in_trampoline = _wrap_keeping_signature
