# A tiny unit-test helper for the firmware's hardware-free modules, in plain MicroPython.
# (MicroPython has no unittest/pytest on a board or in the WebAssembly port.)
#
# A test module defines functions named test_* and ends with
#     if __name__ == "__main__":
#         mptest.main(globals())
# so it runs on its own (`micropython test_frame.py` with firmware/ on sys.path); the Node
# runner (tools/micropython/run.mjs) imports the module and calls run() itself.
import sys

try:
    import io
except ImportError:  # pragma: no cover - every MicroPython port we use has io
    io = None

passed = 0
failed = 0
failures = []  # (qualified test name, one-line error)


class Failure(AssertionError):
    pass


def reset():
    global passed, failed, failures
    passed = 0
    failed = 0
    failures = []


def _r(x):
    try:
        return repr(x)
    except Exception:
        return "<unrepresentable %s>" % type(x).__name__


def eq(a, b, msg=None):
    if not (a == b):
        raise Failure("%s != %s%s" % (_r(a), _r(b), (": " + msg) if msg else ""))


def ne(a, b, msg=None):
    if a == b:
        raise Failure("%s == %s%s" % (_r(a), _r(b), (": " + msg) if msg else ""))


def ok(cond, msg="condition is false"):
    if not cond:
        raise Failure(msg)


def raises(exc, fn, *args, **kwargs):
    """Call fn(*args, **kwargs), which must raise exc (a class or tuple); return the exception."""
    try:
        result = fn(*args, **kwargs)
    except exc as e:
        return e
    raise Failure(
        "%s did not raise %s (returned %s)"
        % (getattr(fn, "__name__", _r(fn)), _name(exc), _r(result))
    )


def _name(exc):
    if isinstance(exc, tuple):
        return " or ".join(e.__name__ for e in exc)
    return exc.__name__


def _format(e):
    if io is not None and hasattr(sys, "print_exception"):  # MicroPython
        buf = io.StringIO()
        sys.print_exception(e, buf)
        return buf.getvalue()
    import traceback  # CPython

    return "".join(traceback.format_exception(type(e), e, e.__traceback__))


def run(g, name=None):
    """Call every test_* function in g (a module's globals() dict, or the module).

    Prints one line per test; returns (passed, failed) for this module and adds them to the
    module-wide totals."""
    global passed, failed
    if not isinstance(g, dict):
        g = g.__dict__
    if name is None:
        name = g.get("__name__", "?")
    names = sorted(k for k in g if k.startswith("test_") and callable(g[k]))
    p = f = 0
    for k in names:
        qual = "%s.%s" % (name, k)
        try:
            g[k]()
        except Exception as e:  # a test's failure, whatever it raised
            f += 1
            line = "%s: %s" % (type(e).__name__, e)
            failures.append((qual, line))
            print("FAIL %s: %s" % (qual, line))
            for tb_line in _format(e).rstrip().split("\n"):
                print("    " + tb_line)
        else:
            p += 1
            print("PASS %s" % qual)
    if not names:
        f += 1
        failures.append((name, "no test_* functions"))
        print("FAIL %s: no test_* functions" % name)
    passed += p
    failed += f
    return p, f


def main(g):
    p, f = run(g)
    print("%d passed, %d failed" % (p, f))
    sys.exit(1 if f else 0)
