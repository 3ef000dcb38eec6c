#!/usr/bin/env node
// Run the firmware's MicroPython unit tests under real MicroPython (the WebAssembly port,
// npm package @micropython/micropython-webassembly-pyscript) on Node.js.
//
//   node tools/micropython/run.mjs [--root DIR] [--timeout SECONDS] [--heapsize BYTES] [TEST.py ...]
//
// --root      the folder that holds the `lk` package (default: firmware/ next to tools/).
// TEST.py     test modules (default: ROOT/tests/test_*.py). Each defines test_* functions and
//             uses firmware/tests/mptest.py; each runs in a fresh MicroPython interpreter
//             (a worker thread, killed after --timeout seconds, default 60).
//
// The .py and .json files under ROOT (the lk package, board files, the tests) are copied into
// the interpreter's in-memory filesystem at their real absolute paths, so tracebacks name
// the real files. Exit status: 0 all passed, 1 a test failed, 2 usage or setup error.
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PKG = "@micropython/micropython-webassembly-pyscript";

function usage(msg) {
    if (msg) console.error(`run.mjs: ${msg}`);
    console.error(
        "usage: node run.mjs [--root DIR] [--timeout SECONDS] [--heapsize BYTES] [TEST.py ...]",
    );
    process.exit(2);
}

// Files to copy into the WASM filesystem: every .py and .json under dir (recursively).
function collect(dir, out) {
    for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
        if (ent.name.startsWith(".") || ent.name === "__pycache__" || ent.name === "node_modules") {
            continue;
        }
        const p = path.join(dir, ent.name);
        if (ent.isDirectory()) collect(p, out);
        else if (ent.isFile() && /\.(py|json)$/.test(ent.name)) out.push(p);
    }
    return out;
}

function pyStr(s) {
    return JSON.stringify(s); // a JSON string literal is a valid Python string literal here
}

// ---------------------------------------------------------------------------------------------
// Worker: one fresh interpreter for one test module.
async function workerMain() {
    const { root, testFile, heapsize } = workerData;
    const send = (msg) => parentPort.postMessage(msg);
    let mp;
    try {
        const mod = await import(`${PKG}/micropython.mjs`);
        mp = await mod.loadMicroPython({
            heapsize,
            stdout: (line) => send({ type: "out", line }),
            stderr: (line) => send({ type: "out", line }),
        });
    } catch (e) {
        send({ type: "setup", error: `cannot load MicroPython (${PKG}): ${e && e.message}` });
        return;
    }
    const files = collect(root, []);
    const testDir = path.dirname(testFile);
    if (!files.includes(testFile)) files.push(...collect(testDir, []));
    for (const f of files) {
        mp.FS.mkdirTree(path.dirname(f));
        mp.FS.writeFile(f, fs.readFileSync(f));
    }
    const modName = path.basename(testFile, ".py");
    try {
        mp.runPython(
            [
                "import sys",
                `sys.path[:] = [${pyStr(testDir)}, ${pyStr(root)}, '.frozen', '/lib']`,
                "_lk_impl = '%s | %s' % (sys.version, sys.implementation)",
            ].join("\n"),
        );
        send({ type: "impl", text: String(mp.globals.get("_lk_impl")) });
        mp.runPython(
            [
                "import mptest",
                "mptest.reset()",
                `import ${modName} as _lk_mod`,
                `mptest.run(_lk_mod, ${pyStr(modName)})`,
                "_lk_counts = '%d %d' % (mptest.passed, mptest.failed)",
            ].join("\n"),
        );
        const [passed, failed] = String(mp.globals.get("_lk_counts")).split(" ").map(Number);
        send({ type: "done", passed, failed });
    } catch (e) {
        // An error outside a test function: the module (or a firmware module it imports)
        // failed to import, or mptest itself broke.
        const text =
            e && e.name === "PythonError" ? e.message : `${e && e.name}: ${e && e.message}`;
        send({ type: "crash", text: String(text).slice(0, 4000) });
    }
}

// ---------------------------------------------------------------------------------------------
// Main: parse arguments, run each test module in its own worker, sum up.
function runOne(root, testFile, heapsize, timeoutMs, state) {
    return new Promise((resolve) => {
        const w = new Worker(fileURLToPath(import.meta.url), {
            workerData: { root, testFile, heapsize },
            stdout: false,
            stderr: false,
        });
        let result = null;
        let seenPass = 0;
        let seenFail = 0;
        // A module that stopped early: the tests that finished before still count.
        const failedAt = (why) => ({ passed: seenPass, failed: seenFail + 1, why });
        const timer = setTimeout(() => {
            result = failedAt(`timed out after ${timeoutMs / 1000} s`);
            w.terminate();
        }, timeoutMs);
        w.on("message", (m) => {
            if (m.type === "out") {
                console.log(m.line);
                if (m.line.startsWith("PASS ")) seenPass++;
                else if (m.line.startsWith("FAIL ")) seenFail++;
            } else if (m.type === "impl") {
                if (!state.implShown) {
                    console.log(`MicroPython under Node.js ${process.version}: ${m.text}`);
                    state.implShown = true;
                }
            } else if (m.type === "done") result = { passed: m.passed, failed: m.failed };
            else if (m.type === "crash") {
                console.log(m.text.replace(/\n+$/, "").replace(/^/gm, "    "));
                result = failedAt("error outside a test (see above)");
            } else if (m.type === "setup") {
                result = { passed: 0, failed: 0, setup: m.error };
            }
        });
        w.on("error", (e) => {
            result = result || failedAt(`worker error: ${e && e.message}`);
        });
        w.on("exit", () => {
            clearTimeout(timer);
            resolve(result || failedAt("the interpreter stopped unexpectedly"));
        });
    });
}

async function main() {
    const args = process.argv.slice(2);
    let root = path.resolve(HERE, "..", "..", "firmware");
    let timeoutMs = 60_000;
    let heapsize = 1024 * 1024;
    const tests = [];
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        if (a === "--root") root = path.resolve(args[++i] ?? usage("--root needs a folder"));
        else if (a === "--timeout") timeoutMs = 1000 * Number(args[++i] ?? usage("--timeout: seconds?"));
        else if (a === "--heapsize") heapsize = Number(args[++i] ?? usage("--heapsize: bytes?"));
        else if (a === "-h" || a === "--help") usage();
        else if (a.startsWith("-")) usage(`unknown option ${a}`);
        else tests.push(path.resolve(a));
    }
    if (!(timeoutMs > 0) || !(heapsize > 0)) usage("bad --timeout or --heapsize");
    if (!fs.existsSync(path.join(root, "lk"))) usage(`no lk package in ${root}`);
    if (tests.length === 0) {
        const dir = path.join(root, "tests");
        if (fs.existsSync(dir)) {
            for (const f of fs.readdirSync(dir).sort()) {
                if (/^test_.*\.py$/.test(f)) tests.push(path.join(dir, f));
            }
        }
    }
    if (tests.length === 0) usage("no test files");
    for (const t of tests) if (!fs.existsSync(t)) usage(`no such file: ${t}`);

    const state = { implShown: false };
    let passed = 0;
    let failed = 0;
    const bad = [];
    for (const t of tests) {
        console.log(`== ${path.relative(process.cwd(), t) || t}`);
        const r = await runOne(root, t, heapsize, timeoutMs, state);
        if (r.setup) {
            console.error(`run.mjs: ${r.setup}`);
            console.error("run.mjs: install it with `npm ci` in tools/micropython (or `make test`)");
            process.exit(2);
        }
        if (r.why) console.log(`FAIL ${path.basename(t)}: ${r.why}`);
        passed += r.passed;
        failed += r.failed;
        if (r.failed) bad.push(path.basename(t));
    }
    const failing = bad.length ? `; failing: ${bad.join(", ")}` : "";
    console.log(`MicroPython firmware tests: ${tests.length} modules${failing}`);
    console.log(`micropython: ${passed} passed, ${failed} failed`);
    process.exitCode = failed ? 1 : 0;
}

if (isMainThread) {
    main().catch((e) => {
        console.error(`run.mjs: ${e && e.stack ? e.stack.slice(0, 2000) : e}`);
        process.exit(2);
    });
} else {
    await workerMain();
}
