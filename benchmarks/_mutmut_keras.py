"""pytest plugin for `benchmarks.mutation`: mutmut's trampolines keep the signature of the function they wrap.

mutmut replaces each mutated function by a `(*args, **kwargs)` trampoline with `functools.wraps`. Keras'
`Operation.__new__` reads a layer's `__init__` with `inspect.getfullargspec`, which does not follow
`__wrapped__` and fails on a trampolined `__init__` ("list index out of range"). An explicit
`__signature__`, which `getfullargspec` reads, gives it the original signature back.

Only `__init__` gets one: `inspect.signature` already follows `__wrapped__`, and Keras wraps `build` in a
`functools.wraps` copy of the bound method, which would inherit the function's `__signature__` with `self` in it
and make `build(self, input_shape)` look like a two-argument build ("does not end in `_shape`").
"""

import inspect

from mutmut.mutation import trampoline

_wrap_in_trampoline = trampoline.wrap_in_trampoline


def _wrap_keeping_signature(mutants_dict, is_classmethod=False):
    decorate = _wrap_in_trampoline(mutants_dict, is_classmethod)

    def decorated(func):
        wrapper = decorate(func)
        if func.__name__ == "__init__":
            wrapper.__signature__ = inspect.signature(func)
        return wrapper

    return decorated


trampoline.wrap_in_trampoline = _wrap_keeping_signature
